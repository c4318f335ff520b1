"""What every request passes before a route reads its body: the API key, and a size limit.

A client without the key learns so at once, whatever it sent; a body over the limit is
refused from its Content-Length before a byte of it is read, or, when it does not declare
its length, as soon as the bytes streamed pass the limit.
"""

import secrets

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ProblemError, problem

# Ten thousand tickets in one batch fit in about 4 MiB: twice that is no honest request.
MAX_BODY_BYTES = 8 * 1024 * 1024
_TOO_LARGE = f"the body is over the limit of {MAX_BODY_BYTES // (1024 * 1024)} MiB"
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Providers sign their webhooks and fans' links are signed: those do not carry the key.
_KEYLESS_PREFIXES = ("/v1/webhooks/",)


def api_key_problem(authorization: str | None, expected: str) -> str | None:
    """Why an Authorization header does not carry the API key; None when it does."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return "missing API key: send Authorization: Bearer <key>"
    if not secrets.compare_digest(key.strip().encode(), expected.encode()):
        return "the API key is not valid"
    return None


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


class RequestGuard:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if path.startswith("/v1/") and not path.startswith(_KEYLESS_PREFIXES):
            why = api_key_problem(headers.get("authorization"), self.api_key)
            if why is not None:
                response = problem(401, why)
                response.headers.update(BEARER_CHALLENGE)
                await response(scope, receive, send)
                return
        length = _declared_length(headers)
        if length is not None and length > MAX_BODY_BYTES:
            await problem(413, _TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                # An HTTPException: FastAPI passes it on from reading the body, as a problem.
                raise ProblemError(413, _TOO_LARGE)
            return message

        await self.app(scope, counted, send)
