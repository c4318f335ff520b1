"""SendGrid v3 `POST /v3/mail/send`, answering as the real API does."""

import asyncio
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.store import ReceivedMessage, SandboxStore

# Sandbox convention: an address whose local part is "invalid" is refused with a 400,
# as SendGrid refuses an address it cannot parse.
INVALID_LOCAL_PART = "invalid"


def _errors(status: int, message: str, field: str | None = None, **headers: str) -> Response:
    body = {"errors": [{"message": message, "field": field, "help": None}]}
    return JSONResponse(body, status_code=status, headers=headers)


async def mail_send(request: Request) -> Response:
    store: SandboxStore = request.app.state.store
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return _errors(401, "The provided authorization grant is invalid, expired, or revoked")
    fault = store.injected_fault("sendgrid")
    if fault is not None:
        reset = str(int(time.time()) + fault.retry_after_seconds)
        return _errors(fault.status, "injected fault", **{"X-RateLimit-Reset": reset})
    try:
        payload = await request.json()
    except ValueError:
        return _errors(400, "Bad Request: the body is not JSON")
    problem = _validate(payload)
    if problem is not None:
        return problem
    message_id = uuid.uuid4().hex[:22]
    accepted, stored = [], []
    for index, personalization in enumerate(payload["personalizations"]):
        stored += _store_personalization(store, payload, personalization, f"{message_id}.{index}")
        custom_args = {**payload.get("custom_args", {}), **personalization.get("custom_args", {})}
        accepted += [(to["email"], custom_args) for to in personalization.get("to", [])]
    request.app.state.webhooks.sendgrid_accepted(message_id, accepted)
    await asyncio.sleep(store.latency.get("sendgrid", 0))
    await store.until_answer_allowed("sendgrid")
    for message in stored:
        message.answered()
    return Response(status_code=202, headers={"X-Message-Id": message_id})


def _validate(payload: Any) -> Response | None:
    if not isinstance(payload, dict) or not payload.get("personalizations"):
        return _errors(400, "The personalizations field is required.", "personalizations")
    if not payload.get("from", {}).get("email"):
        return _errors(400, "The from email is required.", "from.email")
    for p_index, personalization in enumerate(payload["personalizations"]):
        for t_index, recipient in enumerate(personalization.get("to", [])):
            if recipient.get("email", "").split("@")[0] == INVALID_LOCAL_PART:
                field = f"personalizations.{p_index}.to.{t_index}.email"
                return _errors(400, "Does not contain a valid address.", field)
    return None


def _content(payload: dict[str, Any], content_type: str) -> str | None:
    return next(
        (c["value"] for c in payload.get("content", []) if c.get("type") == content_type), None
    )


def _substitute(text: str | None, substitutions: dict[str, str]) -> str | None:
    if text is None:
        return None
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return text


def _store_personalization(
    store: SandboxStore, payload: dict[str, Any], personalization: dict[str, Any], id_: str
) -> list[ReceivedMessage]:
    substitutions = personalization.get("substitutions", {})
    custom_args = {**payload.get("custom_args", {}), **personalization.get("custom_args", {})}
    headers = {**payload.get("headers", {}), **personalization.get("headers", {})}
    return [
        store.add(
            channel="email",
            to=recipient["email"],
            sender=payload["from"]["email"],
            provider_message_id=id_,
            subject=_substitute(
                personalization.get("subject", payload.get("subject")), substitutions
            ),
            text=_substitute(_content(payload, "text/plain"), substitutions),
            html=_substitute(_content(payload, "text/html"), substitutions),
            custom_args=custom_args,
            headers=headers,
        )
        for recipient in personalization.get("to", [])
    ]
