"""Twilio `POST /2010-04-01/Accounts/{sid}/Messages.json`, with Twilio's error codes."""

import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.store import SandboxStore

# Twilio's documented magic test numbers, honoured for any account.
REFUSED_NUMBERS = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def _error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


async def create_message(request: Request) -> Response:
    store: SandboxStore = request.app.state.store
    if not request.headers.get("authorization", "").startswith("Basic "):
        return _error(401, 20003, "Authenticate")
    fault = store.injected_fault("twilio")
    if fault is not None:
        return _error(fault.status, 20429 if fault.status == 429 else 20500, "injected fault")
    form = await request.form()
    to, body = str(form.get("To", "")), str(form.get("Body", ""))
    sender = str(form.get("From") or form.get("MessagingServiceSid") or "")
    if not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    if not sender:
        return _error(400, 21603, "A 'From' phone number is required.")
    if not body:
        return _error(400, 21602, "Message body is required.")
    if to in REFUSED_NUMBERS:
        return _error(400, *REFUSED_NUMBERS[to])
    sid = "SM" + uuid.uuid4().hex
    store.add(channel="sms", to=to, sender=sender, provider_message_id=sid, text=body)
    callback = form.get("StatusCallback")
    request.app.state.webhooks.twilio_accepted(str(callback) if callback else None, sid, to)
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    account_sid = request.path_params["account_sid"]
    return JSONResponse(
        {
            "sid": sid,
            "account_sid": account_sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": str(_segments(body)),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "date_created": now,
            "date_updated": now,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        },
        status_code=201,
    )


def _segments(body: str) -> int:
    # GSM-7 fits 160 characters in one segment, 153 when split; UCS-2 70 and 67.
    single, multi = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)
