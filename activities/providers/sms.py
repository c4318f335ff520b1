"""SMS through Twilio's official SDK, on its asyncio client (many requests in flight)."""

import base64
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import ClientError, ClientTimeout
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from relay.db.models import utcnow

# Errors about the recipient's number: never write to it again.
_BAD_RECIPIENT_CODES = {
    21211: "invalid To number",
    21610: "recipient replied STOP",
    21614: "To number is not a mobile",
}
_TRY_AGAIN_CODES = {20429, 20003}  # too many requests; our credentials (fixable by operators)


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    body: str
    status_callback: str | None = None


class _RateLimited(Exception):
    """Twilio answered 429: nothing was taken. Carries its Retry-After, which the SDK's
    exceptions drop (they keep no response headers)."""

    def __init__(self, retry_after: timedelta | None) -> None:
        super().__init__("Twilio answered 429 (too many requests)")
        self.retry_after = retry_after


class _TimedTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's async client, with what it leaves out.

    It stores its timeout but hands aiohttp the call's own (None: no timeout at all), so
    here every request gets a total timeout. It is also the only place that sees a 429's
    headers (the SDK's exceptions keep none), so it raises with Twilio's Retry-After.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            user, password = auth
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        async with self.session.request(
            method.upper(),
            url,
            params=params,
            data=data,
            headers=headers,
            timeout=ClientTimeout(total=timeout or self.timeout),
            allow_redirects=allow_redirects,
        ) as response:
            text = await response.text()
        if response.status == 429:
            raise _RateLimited(retry_after(response.headers))
        return Response(response.status, text, response.headers)


class TwilioSmsProvider:
    """Build it inside a running event loop (the async HTTP client binds to it)."""

    def __init__(
        self, api_url: str, account_sid: str, auth_token: str, sender: str, timeout_seconds: float
    ) -> None:
        self._http = _TimedTwilioHttpClient(timeout=timeout_seconds)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = api_url
        self._account_sid = account_sid
        self._sender = sender

    async def send(self, sms: OutgoingSms) -> str:
        """Send one SMS; return Twilio's message SID."""
        messages = self._client.api.v2010.accounts(self._account_sid).messages
        try:
            created = await messages.create_async(
                to=sms.to,
                from_=self._sender,
                body=sms.body,
                status_callback=sms.status_callback or values.unset,
            )
        except _RateLimited as limited:
            raise ProviderUnavailableError(
                str(limited), retry_after=limited.retry_after
            ) from limited
        # An error answer: Twilio did not take the message.
        except TwilioRestException as error:
            raise classify_twilio_error(error.status, error.code, error.msg) from error
        except TwilioServiceException as error:
            message = error.detail or error.title
            raise classify_twilio_error(error.status, error.code, message) from error
        except (TwilioException, ClientError, TimeoutError, OSError) as error:
            # No answer (timeout, dropped connection): Twilio may have taken it.
            raise ProviderUnavailableError(
                f"Twilio unreachable: {error!r}", maybe_accepted=True
            ) from error
        return str(created.sid)

    async def close(self) -> None:
        await self._http.close()


def retry_after(headers: Any) -> timedelta | None:
    """HTTP Retry-After: seconds, or an HTTP date."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return timedelta(seconds=max(1.0, float(value)))
    except ValueError:
        pass
    try:
        return max(timedelta(seconds=1), parsedate_to_datetime(value) - utcnow())
    except (TypeError, ValueError):
        return None


def classify_twilio_error(status: int, code: int | None, message: str) -> Exception:
    if code in _BAD_RECIPIENT_CODES:
        return ProviderRejectedError(
            f"Twilio {code}: {_BAD_RECIPIENT_CODES[code]}", suppress_address=True
        )
    if status == 429 or status >= 500 or code in _TRY_AGAIN_CODES or status in (401, 403):
        return ProviderUnavailableError(f"Twilio answered {status} ({code}): {message}")
    return ProviderRejectedError(
        f"Twilio refused the message ({status}, {code}): {message}", suppress_address=False
    )
