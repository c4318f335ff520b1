"""Email through SendGrid's official SDK (`SendGridAPIClient`).

Bulk sends use one rendered body for up to 1,000 recipients (personalizations) a request.
"""

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError

MAX_PERSONALIZATIONS = 1000


@dataclass(frozen=True)
class Recipient:
    address: str
    # Echoed back by the event webhook: how events find their ledger row.
    custom_args: Mapping[str, str] = field(default_factory=dict)
    # Placeholder -> this recipient's value, replaced by SendGrid in subject and bodies.
    substitutions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered email for one or more recipients."""

    recipients: Sequence[Recipient]
    subject: str
    html: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)


class SendGridEmailProvider:
    def __init__(self, api_url: str, api_key: str, sender: str, timeout_seconds: float) -> None:
        self._client = SendGridAPIClient(api_key=api_key, host=api_url)
        # The SDK has no default timeout; a hung connection must not hold an activity slot.
        self._client.client.timeout = timeout_seconds
        name, address = parseaddr(sender)
        self._sender = {"email": address, **({"name": name} if name else {})}

    async def send(self, email: OutgoingEmail) -> str:
        """Send to every recipient (at most 1,000); return SendGrid's message id."""
        if not 0 < len(email.recipients) <= MAX_PERSONALIZATIONS:
            raise ValueError(f"1 to {MAX_PERSONALIZATIONS} recipients a request")
        try:
            response = await asyncio.to_thread(self._client.send, self._body(email))
        except HTTPError as error:
            raise classify_sendgrid_error(error.status_code, error.body, error.headers) from error
        except (URLError, TimeoutError, OSError) as error:
            raise ProviderUnavailableError(
                f"SendGrid unreachable: {error}", maybe_accepted=True
            ) from error
        return str(response.headers.get("X-Message-Id", ""))

    def _body(self, email: OutgoingEmail) -> dict[str, Any]:
        body: dict[str, Any] = {
            "from": self._sender,
            "subject": email.subject,
            "personalizations": [_personalization(r) for r in email.recipients],
            "content": [
                {"type": "text/plain", "value": email.text},
                {"type": "text/html", "value": email.html},
            ],
        }
        if email.headers:
            body["headers"] = dict(email.headers)
        return body


def _personalization(recipient: Recipient) -> dict[str, Any]:
    personalization: dict[str, Any] = {
        "to": [{"email": recipient.address}],
        "custom_args": dict(recipient.custom_args),
    }
    if recipient.substitutions:
        personalization["substitutions"] = dict(recipient.substitutions)
    return personalization


def classify_sendgrid_error(
    status: int, body: bytes | str | None, headers: Mapping[str, str] | Any
) -> Exception:
    detail = _first_error(body)
    if status == 429:
        return ProviderUnavailableError(
            f"SendGrid rate limit: {detail}", retry_after=_until_reset(headers)
        )
    # A bad or revoked key is our configuration, not the fan's address: keep retrying (with
    # backoff) so messages go out once an operator fixes it, instead of failing every journey.
    if status >= 500 or status in (401, 403):
        return ProviderUnavailableError(f"SendGrid answered {status}: {detail}")
    field = _first_error_field(body)
    return ProviderRejectedError(
        f"SendGrid refused the message ({status}): {detail}",
        suppress_address=field is not None and field.startswith("personalizations"),
        field=field,
    )


def _errors(body: bytes | str | None) -> list[dict[str, Any]]:
    try:
        errors = json.loads(body or b"{}").get("errors", [])
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)]


def _first_error(body: bytes | str | None) -> str:
    errors = _errors(body)
    return str(errors[0].get("message", "")) if errors else "no error message"


def _first_error_field(body: bytes | str | None) -> str | None:
    errors = _errors(body)
    field = errors[0].get("field") if errors else None
    return str(field) if field else None


def _until_reset(headers: Mapping[str, str] | Any) -> timedelta | None:
    reset = headers.get("X-RateLimit-Reset") if headers else None
    if reset is None:
        return None
    try:
        return timedelta(seconds=max(1.0, float(reset) - time.time()))
    except ValueError:
        return None
