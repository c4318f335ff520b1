"""Consent changes by API, by one-click unsubscribe and on the preference page."""

import re

import httpx
import pytest

from activities.contracts import SendInput
from activities.send import SendActivities
from relay.preferences_links import preferences_token
from tests.conftest import Sandbox, create_fan
from tests.sending import send, send_input

pytestmark = pytest.mark.usefixtures("database")
EMAIL_CONSENT = {"email_marketing": {"granted": True, "source": "signup"}}


def marketing_email(fan_id: str) -> SendInput:
    return send_input(fan_id, message="club_sports_nudge", category="marketing")


async def test_patching_consent_takes_effect_for_the_next_send(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api)
    assert (
        await send(send_activities, marketing_email(fan["id"]))
    ).reason == "no_email_marketing_consent"
    patched = await api.patch(f"/v1/fans/{fan['id']}", json={"consents": EMAIL_CONSENT})
    assert patched.status_code == 200 and patched.json()["consents"]["email_marketing"]["granted"]
    assert (await send(send_activities, marketing_email(fan["id"]))).status == "sent"


async def test_patch_validates_like_upsert_and_cannot_change_the_external_id(
    api: httpx.AsyncClient,
) -> None:
    fan = await create_fan(api)
    bad = await api.patch(f"/v1/fans/{fan['id']}", json={"phone": "123", "external_id": "x"})
    assert bad.status_code == 422
    fields = {error["field"] for error in bad.json()["errors"]}
    assert fields == {"phone", "external_id"}
    assert (await api.patch("/v1/fans/fan_nobody", json={})).status_code == 404


async def test_one_click_unsubscribe_from_the_email_header_stops_marketing_email(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api, consents=EMAIL_CONSENT, locale="fr")
    await send(send_activities, marketing_email(fan["id"]))
    [email] = sandbox.received_by(fan["email"])
    link = email.headers["List-Unsubscribe"].strip("<>")
    path = httpx.URL(link).path
    # What a mail client does for List-Unsubscribe-Post (RFC 8058): no API key, no cookie.
    async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as client:
        response = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "ne recevrez plus" in response.text
    assert (
        await send(send_activities, marketing_email(fan["id"]))
    ).reason == "no_email_marketing_consent"
    service = await send(send_activities, send_input(fan["id"]))
    assert service.status == "sent"  # practical information still goes


async def test_the_preference_page_speaks_the_fans_language_and_saves_choices(
    api: httpx.AsyncClient,
) -> None:
    fan = await create_fan(api, locale="fr", consents=EMAIL_CONSENT)
    path = f"/u/{preferences_token('test-secret-key', fan['id'])}"
    async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as browser:
        page = await browser.get(path)
        assert page.status_code == 200 and "Vos préférences" in page.text
        assert re.search(r'name="email_marketing" value="on" checked', page.text)
        saved = await browser.post(f"{path}/preferences", data={"sms_marketing": "on"})
        assert "Vos préférences sont enregistrées." in saved.text
    consents = (await api.get(f"/v1/fans/{fan['id']}")).json()["consents"]
    assert consents["email_marketing"]["granted"] is False
    assert consents["sms_marketing"] == {
        **consents["sms_marketing"],
        "granted": True,
        "source": "preference-page",
    }


async def test_a_tampered_preferences_link_is_refused(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api)
    token = preferences_token("test-secret-key", fan["id"])
    async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as browser:
        assert (await browser.get(f"/u/{token[:-2]}xx")).status_code == 404
        assert (
            await browser.post(f"/u/{preferences_token('other-key', fan['id'])}")
        ).status_code == 404
