"""SMS through Twilio's official SDK, on its asyncio client (many requests in flight)."""

from dataclasses import dataclass

from aiohttp import ClientError
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError

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


class TwilioSmsProvider:
    """Build it inside a running event loop (the async HTTP client binds to it)."""

    def __init__(
        self, api_url: str, account_sid: str, auth_token: str, sender: str, timeout_seconds: float
    ) -> None:
        # The SDK has no default timeout either.
        self._http = AsyncTwilioHttpClient(timeout=timeout_seconds)
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
        except TwilioRestException as error:
            raise classify_twilio_error(error.status, error.code, error.msg) from error
        except (TwilioException, ClientError, TimeoutError, OSError) as error:
            raise ProviderUnavailableError(
                f"Twilio unreachable: {error!r}", maybe_accepted=True
            ) from error
        return str(created.sid)

    async def close(self) -> None:
        await self._http.close()


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
