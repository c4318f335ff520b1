"""Dependencies shared by routers: the database session, Temporal, the API key."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.guard import BEARER_CHALLENGE, api_key_problem
from api.problems import ProblemError

_bearer = HTTPBearer(auto_error=False)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def require_api_key(
    request: Request,
    # Declares the scheme in OpenAPI; api.guard has already checked it before the body.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    why = api_key_problem(request.headers.get("authorization"), request.app.state.settings.api_key)
    if why is not None:
        raise ProblemError(401, why, BEARER_CHALLENGE)


SessionDep = Annotated[AsyncSession, Depends(_session)]
TemporalDep = Annotated[Client, Depends(_temporal)]
