"""Provider webhooks: SendGrid events (ECDSA-signed), Twilio status callbacks and inbound SMS
(HMAC-signed). Forged or stale requests get 403 and change nothing."""

import json
import time
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from api import feedback
from api.deps import SessionDep
from api.problems import ProblemError
from journeys.rendering import MessageRenderer
from relay.settings import Settings

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
HELP_TEXT = "Fan Club: reply STOP to stop messages, START to receive them again."


def verify_sendgrid(settings: Settings, body: bytes, headers: Any) -> None:
    key = settings.sendgrid_webhook_public_key
    if not key:
        raise ProblemError(403, "SendGrid webhooks are refused: no verification key configured")
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp or not timestamp.isdigit():
        raise ProblemError(403, f"missing or malformed {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}")
    # The helper checks the signature only; a replayed old request must be refused too.
    if abs(time.time() - int(timestamp)) > settings.webhook_max_age_seconds:
        raise ProblemError(403, "the webhook timestamp is too old (or in the future)")
    try:
        valid = EventWebhook(key).verify_signature(body.decode(), signature, timestamp)
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise ProblemError(403, "the SendGrid webhook signature does not match")


@router.post("/sendgrid")
async def sendgrid_events(request: Request, session: SessionDep) -> dict[str, int]:
    body = await request.body()  # the raw bytes: re-serialised JSON would not verify
    verify_sendgrid(request.app.state.settings, body, request.headers)
    try:
        events = json.loads(body)
    except ValueError:
        raise ProblemError(400, "the body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ProblemError(400, "the body must be a JSON array of event objects")
    applied = sum([await feedback.apply_sendgrid_event(session, event) for event in events])
    await session.commit()
    return {"received": len(events), "applied": applied}


async def _verified_twilio_form(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    form = {key: str(value) for key, value in (await request.form()).items()}
    # Twilio signs the public URL it called, which behind a proxy is not the one we see.
    url = settings.api_public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        raise ProblemError(403, "the X-Twilio-Signature does not match this request")
    return form


@router.post("/twilio/status", status_code=204)
async def twilio_status(request: Request, session: SessionDep) -> Response:
    form = await _verified_twilio_form(request)
    await feedback.apply_twilio_status(session, request.query_params.get("message_id"), form)
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/twilio/inbound",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "TwiML"}},
)
async def twilio_inbound(request: Request, session: SessionDep) -> Response:
    form = await _verified_twilio_form(request)
    words = form.get("Body", "").strip().upper().split()
    keyword = words[0] if words else ""
    reply = ""
    if await feedback.first_time(session, f"twilio-in:{form.get('MessageSid', '')}"):
        fans = await feedback.apply_sms_keyword(session, form.get("From", ""), keyword)
        if keyword in feedback.HELP_WORDS:
            renderer: MessageRenderer = request.app.state.renderer
            locale = fans[0].locale if fans else "en"
            reply = f"<Message>{escape(renderer.translate(HELP_TEXT, locale))}</Message>"
    await session.commit()
    return Response(f"<Response>{reply}</Response>", media_type="application/xml")
