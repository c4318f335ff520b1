"""Shared fixtures: real databases, the provider sandbox, Temporal servers, workers, the API.

Everything here runs for real on 127.0.0.1; nothing is mocked.
"""

import base64
import itertools
import random
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.send import SendActivities
from api.app import create_app
from relay.db.engine import create_engine, session_factory
from relay.settings import Settings
from relay.temporal import register_search_attributes
from sandbox.app import create_sandbox_app
from sandbox.store import ReceivedMessage, SandboxStore
from sandbox.threaded import serve_in_thread
from tests.databases import BACKENDS, fresh_database
from worker import open_send_activities, open_workers

VENV_BIN = Path(sys.executable).parent
API_KEY = "test-api-key"
# SendGrid signs its event webhook with ECDSA P-256; tests sign with this key's private half.
SENDGRID_WEBHOOK_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_WEBHOOK_PUBLIC_KEY = base64.b64encode(
    SENDGRID_WEBHOOK_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@dataclass
class Sandbox:
    url: str
    store: SandboxStore

    def received_by(self, address: str) -> list[ReceivedMessage]:
        return self.store.messages(to=address)


@dataclass(frozen=True)
class DatabaseUnderTest:
    backend: str
    url: str


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    store = SandboxStore()
    with serve_in_thread(create_sandbox_app(store)) as url:
        yield Sandbox(url, store)


@pytest.fixture(scope="session", params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DatabaseUnderTest]:
    backend = request.param
    async with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        yield DatabaseUnderTest(backend, url)


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    # One namespace per database backend, so workers of one never take the other's tasks.
    namespaces = [
        arg
        for backend in BACKENDS
        for namespace in (f"relay-{backend}", f"relay-crash-{backend}")
        for arg in ("--namespace", namespace)
    ]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        dev_server_extra_args=["--ui-disable-news-fetch", *namespaces],
        ui=False,
    )
    yield env
    await env.shutdown()


def make_settings(database_url: str, sandbox: Sandbox, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "database_url": database_url,
        "api_key": API_KEY,
        "secret_key": "test-secret-key",
        "sendgrid_webhook_public_key": SENDGRID_WEBHOOK_PUBLIC_KEY,
        "delivery_evidence_seconds": 2,
        "sendgrid_api_url": sandbox.url,
        "twilio_api_url": sandbox.url,
        "provider_timeout_seconds": 5,
    }
    return Settings(**(defaults | overrides))


@pytest.fixture(scope="session")
def settings(
    database: DatabaseUnderTest, sandbox: Sandbox, dev_server: WorkflowEnvironment
) -> Settings:
    return make_settings(
        database.url,
        sandbox,
        temporal_address=dev_server.client.service_client.config.target_host,
        temporal_namespace=f"relay-{database.backend}",
    )


@pytest.fixture(scope="session")
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.sqlalchemy_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def temporal(settings: Settings, dev_server: WorkflowEnvironment) -> Client:
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    await register_search_attributes(client, settings.temporal_namespace)
    return client


@pytest.fixture(scope="session")
async def workers(
    temporal: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    async with open_workers(temporal, settings, sessions) as workers, AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        yield


@pytest.fixture(scope="session")
async def send_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[SendActivities]:
    async with open_send_activities(settings, sessions) as activities:
        yield activities


@pytest.fixture(scope="session")
async def api(settings: Settings, temporal: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://relay.test",
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as client:
            yield client


def unique_fan(**overrides: Any) -> dict[str, Any]:
    """A fan upsert body with an external id and email no other test uses."""
    tag = uuid.uuid4().hex[:10]
    return {
        "external_id": f"ext-{tag}",
        "email": f"fan-{tag}@example.org",
        "locale": "en",
        "time_zone": "Europe/Paris",
        **overrides,
    }


# Counted, not random: the sandbox keeps every message of the session, so two tests drawing
# the same random number would each see the other's SMS.
_phone_numbers = itertools.count(random.randrange(10**7))


def unique_phone() -> str:
    """A French mobile number no other test in this run uses."""
    return f"+336{next(_phone_numbers) % 10**8:08d}"


async def create_fan(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await api.post("/v1/fans", json=unique_fan(**overrides))
    assert response.status_code == 201, response.text
    fan: dict[str, Any] = response.json()
    return fan
