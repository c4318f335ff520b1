"""Provider webhooks: verified, applied once, harmless when repeated or out of order."""

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from activities.send import SendActivities
from relay.settings import Settings
from tests.conftest import SENDGRID_WEBHOOK_KEY, Sandbox, create_fan, unique_phone
from tests.sending import send, send_input

pytestmark = pytest.mark.usefixtures("database")
BOTH_CONSENTS = {
    "email_marketing": {"granted": True, "source": "test"},
    "sms_marketing": {"granted": True, "source": "test"},
}


def signed_sendgrid(events: list[dict[str, Any]], timestamp: int | None = None) -> dict[str, Any]:
    body = json.dumps(events).encode() + b"\r\n"
    stamp = str(timestamp or int(time.time()))
    signature = SENDGRID_WEBHOOK_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "content": body,
        "headers": {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
        },
    }


def event(kind: str, ledger_id: int | None, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "email": email,
        "timestamp": int(time.time()),
        "sg_event_id": uuid.uuid4().hex,
        "relay_message_id": str(ledger_id),
        **extra,
    }


def signed_twilio(settings: Settings, path: str, form: dict[str, str]) -> dict[str, Any]:
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(
        settings.api_public_url + path, form
    )
    return {"data": form, "headers": {"X-Twilio-Signature": signature}}


async def messages(api: httpx.AsyncClient, fan_id: str) -> list[dict[str, Any]]:
    return list((await api.get(f"/v1/fans/{fan_id}/messages")).json())


async def test_a_forged_or_stale_sendgrid_webhook_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api)
    sent = await send(send_activities, send_input(fan["id"]))
    bounce = [event("bounce", sent.ledger_id, fan["email"])]
    forged = signed_sendgrid(bounce)
    forged["content"] = forged["content"].replace(b"bounce", b"open")
    stale = signed_sendgrid(bounce, timestamp=int(time.time()) - 3600)
    unsigned = {"content": json.dumps(bounce).encode()}
    for request in (forged, stale, unsigned):
        response = await api.post("/v1/webhooks/sendgrid", **request)
        assert response.status_code == 403, response.text
    [row] = await messages(api, fan["id"])
    assert row["status"] == "sent" and row["bounced_at"] is None and row["opened_at"] is None
    again = await send(send_activities, send_input(fan["id"], category="urgent"))
    assert again.status == "sent"  # the address was not suppressed by the forgery


async def test_delivery_events_fill_the_ledger_once_whatever_their_order(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api)
    sent = await send(send_activities, send_input(fan["id"]))
    click = event("click", sent.ledger_id, fan["email"])
    delivered = event("delivered", sent.ledger_id, fan["email"], timestamp=click["timestamp"] - 60)
    response = await api.post("/v1/webhooks/sendgrid", **signed_sendgrid([click, delivered]))
    assert response.json() == {"received": 2, "applied": 2}
    repeat = await api.post("/v1/webhooks/sendgrid", **signed_sendgrid([click]))
    assert repeat.json() == {"received": 1, "applied": 0}
    [row] = await messages(api, fan["id"])
    assert row["delivered_at"] and row["opened_at"] and row["clicked_at"]
    assert row["status"] == "sent"


async def test_a_hard_bounce_suppresses_the_address_and_the_journey_goes_on_by_sms(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, consents=BOTH_CONSENTS)
    welcome = await send(send_activities, send_input(fan["id"]))
    bounce = event("bounce", welcome.ledger_id, fan["email"], type="bounce")
    assert (await api.post("/v1/webhooks/sendgrid", **signed_sendgrid([bounce]))).status_code == 200

    nudge = send_input(
        fan["id"], message="club_sports_nudge", category="marketing", fallback_channels=["sms"]
    )
    result = await send(send_activities, nudge)
    assert (result.status, result.channel) == ("sent", "sms")
    assert len(sandbox.received_by(fan["email"])) == 1 and len(sandbox.received_by(phone)) == 1
    statuses = {
        (m["step"], m["channel"]): (m["status"], m["reason"])
        for m in await messages(api, fan["id"])
    }
    assert statuses[("welcome", "email")] == ("bounced", "hard bounce")


async def test_an_unsubscribe_event_withdraws_email_marketing(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api, consents=BOTH_CONSENTS)
    sent = await send(
        send_activities, send_input(fan["id"], message="club_sports_nudge", category="marketing")
    )
    unsubscribe = event("unsubscribe", sent.ledger_id, fan["email"])
    await api.post("/v1/webhooks/sendgrid", **signed_sendgrid([unsubscribe]))
    consent = (await api.get(f"/v1/fans/{fan['id']}")).json()["consents"]["email_marketing"]
    assert consent["granted"] is False and consent["source"] == "sendgrid:unsubscribe"


async def test_a_stop_reply_stops_marketing_sms_at_once_and_start_brings_them_back(
    api: httpx.AsyncClient, send_activities: SendActivities, settings: Settings
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, consents=BOTH_CONSENTS)
    path = "/v1/webhooks/twilio/inbound"

    def inbound(body: str) -> dict[str, Any]:
        form = {
            "From": phone,
            "To": "+15005550006",
            "Body": body,
            "MessageSid": "SM" + uuid.uuid4().hex,
        }
        return signed_twilio(settings, path, form)

    stopped = await api.post(path, **inbound("Stop"))
    assert stopped.status_code == 200 and stopped.text == "<Response></Response>"
    marketing = send_input(
        fan["id"], channel="sms", message="club_sports_nudge", category="marketing"
    )
    assert (await send(send_activities, marketing)).reason == "address_suppressed"

    await api.post(path, **inbound("START"))
    again = send_input(fan["id"], channel="sms", message="club_sports_nudge", category="marketing")
    assert (await send(send_activities, again)).status == "sent"


async def test_help_is_answered_in_the_fans_language(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    phone = unique_phone()
    await create_fan(api, phone=phone, locale="fr")
    form = {"From": phone, "Body": "help", "MessageSid": "SM" + uuid.uuid4().hex}
    response = await api.post(
        "/v1/webhooks/twilio/inbound",
        **signed_twilio(settings, "/v1/webhooks/twilio/inbound", form),
    )
    assert "répondez STOP" in response.text
    assert response.headers["content-type"].startswith("application/xml")


async def test_a_forged_twilio_request_is_refused(
    api: httpx.AsyncClient, send_activities: SendActivities, settings: Settings
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, consents=BOTH_CONSENTS)
    request = signed_twilio(
        settings, "/v1/webhooks/twilio/inbound", {"From": phone, "Body": "STOP"}
    )
    request["data"] = {**request["data"], "From": phone, "Body": "STOP", "Extra": "tampered"}
    response = await api.post("/v1/webhooks/twilio/inbound", **request)
    assert response.status_code == 403
    sms = send_input(fan["id"], channel="sms", message="club_sports_nudge", category="marketing")
    assert (await send(send_activities, sms)).status == "sent"


async def test_twilio_status_callbacks_mark_delivery_and_dead_numbers(
    api: httpx.AsyncClient, send_activities: SendActivities, settings: Settings
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone)
    sent = await send(send_activities, send_input(fan["id"], channel="sms"))
    path = f"/v1/webhooks/twilio/status?message_id={sent.ledger_id}"
    base = {"MessageSid": "SM" + uuid.uuid4().hex, "To": phone}
    for status in ("sent", "undelivered", "undelivered"):  # repeated, out of order
        form = {
            **base,
            "MessageStatus": status,
            "ErrorCode": "30005" if status == "undelivered" else "",
        }
        assert (await api.post(path, **signed_twilio(settings, path, form))).status_code == 204
    [row] = await messages(api, fan["id"])
    assert (row["status"], row["reason"]) == ("bounced", "twilio error 30005")
    urgent = await send(send_activities, send_input(fan["id"], channel="sms", category="urgent"))
    assert urgent.reason == "address_suppressed"


@pytest.mark.parametrize(
    "bad",
    [
        {"timestamp": "abc"},
        {"timestamp": 1e20},
        {"relay_message_id": "9" * 30},
        {"email": "x" * 400 + "@example.org", "event": "bounce"},
        {"sg_message_id": "m" * 150 + ".filter"},
        {"reason": "bounced\u0000", "event": "dropped"},
    ],
    ids=[
        "timestamp-abc",
        "timestamp-1e20",
        "message-id-30-digits",
        "email-400-chars",
        "sg-message-id-150-chars",
        "reason-with-nul",
    ],
)
async def test_one_malformed_sendgrid_event_does_not_spoil_its_batch(
    api: httpx.AsyncClient, send_activities: SendActivities, bad: dict[str, Any]
) -> None:
    fan = await create_fan(api)
    sent = await send(send_activities, send_input(fan["id"]))
    malformed = event("open", sent.ledger_id, fan["email"]) | bad
    delivered = event("delivered", sent.ledger_id, fan["email"])
    response = await api.post("/v1/webhooks/sendgrid", **signed_sendgrid([malformed, delivered]))
    assert response.status_code == 200, response.text
    assert response.json()["received"] == 2
    [row] = await messages(api, fan["id"])
    assert row["delivered_at"] is not None and row["opened_at"] is None


@pytest.mark.parametrize(
    "bad",
    [{"MessageSid": "SM" + "9" * 150}, {"ErrorCode": "3" * 300}, {"To": "+3" + "6" * 400}],
    ids=["sid-150-chars", "error-code-300-chars", "to-400-chars"],
)
async def test_a_malformed_twilio_status_callback_is_ignored_not_a_500(
    api: httpx.AsyncClient, send_activities: SendActivities, settings: Settings, bad: dict[str, str]
) -> None:
    fan = await create_fan(api, phone=unique_phone())
    sent = await send(send_activities, send_input(fan["id"], channel="sms"))
    path = f"/v1/webhooks/twilio/status?message_id={sent.ledger_id}"
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "To": fan["phone"], "ErrorCode": "30005"}
    form |= {"MessageStatus": "undelivered", **bad}
    assert (await api.post(path, **signed_twilio(settings, path, form))).status_code == 204
    [row] = await messages(api, fan["id"])
    assert row["status"] == "sent"


async def test_a_stop_from_a_number_no_phone_can_have_is_ignored_not_a_500(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    path = "/v1/webhooks/twilio/inbound"
    form = {"From": "+3" + "6" * 400, "Body": "STOP", "MessageSid": "SM" + uuid.uuid4().hex}
    response = await api.post(path, **signed_twilio(settings, path, form))
    assert response.status_code == 200 and response.text == "<Response></Response>"
