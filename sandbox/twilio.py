"""Twilio `POST /2010-04-01/Accounts/{sid}/Messages.json`, with Twilio's error codes."""

import asyncio
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from sandbox.store import SandboxStore

# Twilio's documented magic test numbers, honoured for any account.
REFUSED_NUMBERS = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def _error(status: int, code: int, message: str, **headers: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


class _DroppedConnection(Response):
    """Start a 201 and close the connection mid-body: the client gets no usable answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 201}
        await send({**start, "headers": [(b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})


async def create_message(request: Request) -> Response:
    store: SandboxStore = request.app.state.store
    if not request.headers.get("authorization", "").startswith("Basic "):
        return _error(401, 20003, "Authenticate")
    form = await request.form()
    to, body = str(form.get("To", "")), str(form.get("Body", ""))
    fault = store.injected_fault("twilio", to)
    if fault is not None and not fault.drop_connection:
        if fault.status == 429:
            retry = str(fault.retry_after_seconds)
            return _error(429, 20429, "Too Many Requests", **{"Retry-After": retry})
        return _error(fault.status, 20500, "injected fault")
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
    message = store.add(channel="sms", to=to, sender=sender, provider_message_id=sid, text=body)
    callback = form.get("StatusCallback")
    request.app.state.webhooks.twilio_accepted(str(callback) if callback else None, sid, to)
    if fault is not None:
        return _DroppedConnection()
    await asyncio.sleep(store.latency.get("twilio", 0))
    await store.until_answer_allowed("twilio")
    message.answered()
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
