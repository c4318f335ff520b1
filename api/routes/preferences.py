"""One-click unsubscribe (RFC 8058) and the preference page, reached by a signed link."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from api.deps import SessionDep
from api.problems import ProblemError
from journeys.rendering import MessageRenderer
from relay.db.consents import record_consent
from relay.db.models import ConsentPurpose, Fan, utcnow
from relay.preferences_links import fan_id_from_token

router = APIRouter(prefix="/u", tags=["preferences"])
_CHANNEL_PURPOSES = (ConsentPurpose.EMAIL_MARKETING, ConsentPurpose.SMS_MARKETING)


async def _fan_from(request: Request, session: SessionDep, token: str) -> Fan:
    fan_id = fan_id_from_token(request.app.state.settings.require_secret_key(), token)
    fan = await session.get(Fan, fan_id) if fan_id else None
    if fan is None:
        raise ProblemError(404, "this preferences link is not valid (or the fan was erased)")
    return fan


def _page(request: Request, fan: Fan, token: str, notice: str | None = None) -> HTMLResponse:
    renderer: MessageRenderer = request.app.state.renderer
    html = renderer.render_page(
        "preferences",
        fan.locale,
        {
            "action": f"/u/{token}/preferences",
            "notice": renderer.translate(notice, fan.locale) if notice else None,
            **{purpose.value: fan.has_consent(purpose) for purpose in _CHANNEL_PURPOSES},
        },
    )
    return HTMLResponse(html)


@router.get("/{token}", response_class=HTMLResponse)
async def preferences_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    # A GET never unsubscribes: mail scanners follow links; people press buttons.
    return _page(request, await _fan_from(request, session, token), token)


@router.post("/{token}", response_class=PlainTextResponse)
async def one_click_unsubscribe(token: str, request: Request, session: SessionDep) -> str:
    """What a mail client posts for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`."""
    fan = await _fan_from(request, session, token)
    record_consent(fan, ConsentPurpose.EMAIL_MARKETING, False, "one-click-unsubscribe")
    fan.updated_at = utcnow()
    await session.commit()
    renderer: MessageRenderer = request.app.state.renderer
    return renderer.translate("You will no longer receive news and offers by email.", fan.locale)


@router.post("/{token}/preferences", response_class=HTMLResponse)
async def save_preferences(
    token: str,
    request: Request,
    session: SessionDep,
    email_marketing: Annotated[str | None, Form()] = None,
    sms_marketing: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    fan = await _fan_from(request, session, token)
    chosen = {
        ConsentPurpose.EMAIL_MARKETING: email_marketing == "on",
        ConsentPurpose.SMS_MARKETING: sms_marketing == "on",
    }
    for purpose, granted in chosen.items():
        record_consent(fan, purpose, granted, "preference-page")
    fan.updated_at = utcnow()
    await session.commit()
    return _page(request, fan, token, notice="Your preferences are saved.")
