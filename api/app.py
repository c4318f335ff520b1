"""The FastAPI application: clients built in the lifespan, routers per resource."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api.deps import require_api_key
from api.guard import RequestGuard
from api.openapi import problem_responses
from api.problems import install_problem_handlers
from api.routes import (
    enrollments,
    event_batches,
    events,
    fan_batches,
    fan_journeys,
    fans,
    health,
    incidents,
    preferences,
    stats,
    tickets,
    webhooks,
)
from journeys.rendering import MessageRenderer
from relay.db.engine import create_engine, session_factory
from relay.settings import Settings
from relay.temporal import connect_temporal


def create_app(settings: Settings) -> FastAPI:
    if not settings.api_key:
        raise ValueError("RELAY_API_KEY must be set: every endpoint but /health requires it")
    settings.require_secret_key()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.sqlalchemy_url)
        app.state.settings = settings
        app.state.sessions = session_factory(engine)
        app.state.temporal = await connect_temporal(settings)
        app.state.renderer = MessageRenderer()
        yield
        await engine.dispose()

    app = FastAPI(title="Relay", summary="Fan journey engine", lifespan=lifespan)
    # Before any route reads a body: the API key for /v1, and the size limit.
    app.add_middleware(RequestGuard, api_key=settings.api_key)
    install_problem_handlers(app)
    app.include_router(health.router)
    # Fans and providers authenticate by signed links and signatures, not the API key.
    app.include_router(preferences.router)
    app.include_router(webhooks.router)
    authenticated = [Depends(require_api_key)]
    app.include_router(fans.router, dependencies=authenticated)
    app.include_router(fan_batches.router, dependencies=authenticated)
    app.include_router(enrollments.router, dependencies=authenticated)
    app.include_router(events.router, dependencies=authenticated)
    app.include_router(event_batches.router, dependencies=authenticated)
    app.include_router(fan_journeys.router, dependencies=authenticated)
    app.include_router(stats.router, dependencies=authenticated)
    app.include_router(tickets.router, dependencies=authenticated)
    app.include_router(incidents.router, dependencies=authenticated)
    problem_responses(app)
    return app
