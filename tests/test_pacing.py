"""Pacing and priority on a real dev server: sends go out at their provider's rate, service
before marketing, and an incident never waits behind journey sends.

No assertion here reads a clock: each one counts, at the sandbox, what arrived before what.
"""

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from journeys.journey import Journey
from journeys.registry import register
from journeys.steps import Send
from relay.db.engine import create_engine, session_factory
from relay.db.models import Consent, ConsentPurpose, Fan
from relay.settings import Settings
from relay.task_queues import (
    BROADCAST_TASK_QUEUE,
    EMAIL_SEND_TASK_QUEUE,
    JOURNEY_TASK_QUEUE,
    LEGACY_SEND_TASK_QUEUE,
    SMS_SEND_TASK_QUEUE,
    URGENT_SEND_TASK_QUEUE,
)
from relay.temporal import SINGLE_PARTITION_ARGS, register_search_attributes
from runs.client import start_journey
from tests.conftest import API_KEY, DatabaseUnderTest, Sandbox, make_settings
from tests.incidents import add_holders, add_session, wait_until_done
from worker import open_workers

# Journey sends 2 a second on each provider (the rest is kept for incidents), incident pages
# about one a second: a backlog of journey sends builds at once and drains for seconds.
PACED = {"sendgrid_rate": 1000, "twilio_rate": 1000, "urgent_share": 0.998}
BACKLOG = 24
WELCOME = "club_welcome"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PacedEngine:
    temporal: Client
    api: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def paced(database: DatabaseUnderTest, sandbox: Sandbox) -> AsyncIterator[PacedEngine]:
    """The whole engine with paced send queues, on a dev server of its own (the session's
    workers poll the shared one, and a queue's rate is the last poller's)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        dev_server_extra_args=["--ui-disable-news-fetch", *SINGLE_PARTITION_ARGS],
        ui=False,
    )
    settings = make_settings(
        database.url,
        sandbox,
        temporal_address=env.client.service_client.config.target_host,
        temporal_namespace=env.client.namespace,
        **PACED,
    )
    await register_search_attributes(env.client, env.client.namespace)
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    app = create_app(settings)
    try:
        async with (
            open_workers(env.client, settings, sessions) as workers,
            AsyncExitStack() as stack,
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://relay.test",
                headers={"Authorization": f"Bearer {API_KEY}"},
            ) as api,
        ):
            for worker in workers:
                await stack.enter_async_context(worker)
            yield PacedEngine(env.client, api, sessions)
    finally:
        await engine.dispose()
        await env.shutdown()


def single_send(category: str) -> Journey:
    defined = Journey(
        name=f"test-pacing-{uuid.uuid4().hex[:8]}",
        version=1,
        steps=(Send(id="hello", message=WELCOME, channel="email", category=category),),  # type: ignore[arg-type]
    )
    register(defined)
    return defined


async def add_fans(paced: PacedEngine, count: int) -> list[Fan]:
    tag = uuid.uuid4().hex[:8]
    fans = [
        Fan(
            external_id=f"ext-{tag}-{n}",
            email=f"paced-{tag}-{n}@example.org",
            locale="en",
            time_zone="Europe/Paris",
            interests=[],
            consents=[Consent(purpose=ConsentPurpose.EMAIL_MARKETING, granted=True, source="test")],
        )
        for n in range(count)
    ]
    async with paced.sessions() as session:
        session.add_all(fans)
        await session.commit()
    return fans


async def start_backlog(paced: PacedEngine, sandbox: Sandbox) -> set[str]:
    """BACKLOG marketing emails on the paced email queue; returns once the first went out,
    so the rest are waiting their turn."""
    fans = await add_fans(paced, BACKLOG)
    marketing = single_send("marketing")
    for fan in fans:
        await start_journey(paced.temporal, marketing, fan.id)
    addresses = {fan.email for fan in fans if fan.email}
    await arrived(sandbox, addresses, at_least=1)
    return addresses


async def arrived(sandbox: Sandbox, addresses: Iterable[str], at_least: int) -> list[str]:
    """Wait until `at_least` of these addresses got a message; who got one, in arrival order."""
    wanted = set(addresses)
    for _ in range(1200):
        order = [m.to for m in sandbox.store.messages() if m.to in wanted]
        if len(order) >= at_least:
            return order
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(order)} of {at_least} messages arrived")


async def test_service_sends_overtake_a_backlog_of_marketing_sends_to_the_same_provider(
    paced: PacedEngine, sandbox: Sandbox
) -> None:
    backlog = await start_backlog(paced, sandbox)
    service = single_send("service")
    fans = await add_fans(paced, 3)
    for fan in fans:
        await start_journey(paced.temporal, service, fan.id)
    urgent = {fan.email for fan in fans if fan.email}

    order = await arrived(sandbox, backlog | urgent, at_least=BACKLOG + 3)

    assert len(order) == len(set(order)) == BACKLOG + 3  # every send went, once
    last_service = max(order.index(address) for address in urgent)
    # Started after the whole backlog, yet out while most of it still waited.
    assert last_service < BACKLOG // 2, order


async def test_an_incident_reaches_every_holder_while_journey_sends_still_wait_their_turn(
    paced: PacedEngine, sandbox: Sandbox
) -> None:
    backlog = await start_backlog(paced, sandbox)
    session_id = await add_session(paced.api)
    holders = await add_holders(paced.api, paced.sessions, 40, [session_id])
    response = await paced.api.post(
        "/v1/incidents",
        json={
            "message": "incident_gate_change",
            "parameters": {"to_gate": "K", "from_gate": "A"},
            "scope": {"sessions": [session_id]},
            "channels": ["email"],
            "valid_for_minutes": 90,
        },
    )
    assert response.status_code == 202, response.text

    progress = await wait_until_done(paced.api, response.json()["id"])
    journey_sends_out = len(await arrived(sandbox, backlog, at_least=1))

    assert progress["sent"] == len(holders) == 40
    assert journey_sends_out < BACKLOG // 2
    await arrived(sandbox, backlog, at_least=BACKLOG)  # and the backlog goes on at its pace


async def test_provider_rates_pace_each_send_queue_for_all_workers(
    monkeypatch: pytest.MonkeyPatch, dev_server: WorkflowEnvironment
) -> None:
    monkeypatch.setenv("RELAY_SENDGRID_RATE", "3000")
    monkeypatch.setenv("RELAY_TWILIO_RATE", "100")
    monkeypatch.setenv("RELAY_URGENT_SHARE", "0.2")

    rates = await queue_rates(dev_server, Settings(secret_key="s"))

    assert rates == {
        JOURNEY_TASK_QUEUE: None,
        BROADCAST_TASK_QUEUE: None,
        EMAIL_SEND_TASK_QUEUE: pytest.approx(2400),
        SMS_SEND_TASK_QUEUE: pytest.approx(80),
        # A page holds up to 1,000 messages on either provider: Twilio's 20 a second, in pages.
        URGENT_SEND_TASK_QUEUE: pytest.approx(0.02),
        LEGACY_SEND_TASK_QUEUE: pytest.approx(80),
    }


async def test_without_provider_rates_no_queue_is_paced(dev_server: WorkflowEnvironment) -> None:
    rates = await queue_rates(dev_server, Settings(secret_key="s"))

    assert set(rates.values()) == {None}


async def test_a_worker_process_can_be_kept_for_incidents(dev_server: WorkflowEnvironment) -> None:
    settings = Settings(
        secret_key="s", worker_task_queues=f"{BROADCAST_TASK_QUEUE}, {URGENT_SEND_TASK_QUEUE}"
    )

    rates = await queue_rates(dev_server, settings)

    assert set(rates) == {BROADCAST_TASK_QUEUE, URGENT_SEND_TASK_QUEUE}


async def test_an_unknown_task_queue_to_serve_stops_the_worker_with_the_names_it_knows(
    dev_server: WorkflowEnvironment,
) -> None:
    settings = Settings(secret_key="s", worker_task_queues="relay-sends-fax")

    with pytest.raises(ValueError, match=r"no task queue relay-sends-fax; known: relay-journeys"):
        await queue_rates(dev_server, settings)


async def queue_rates(server: WorkflowEnvironment, settings: Settings) -> dict[str, float | None]:
    """What each worker `open_workers` builds asks the server to pace its queue at."""
    # Built, never run: on a namespace of their own, so they clash with no running worker.
    client = await Client.connect(
        server.client.service_client.config.target_host, namespace=f"rates-{uuid.uuid4().hex}"
    )
    async with open_workers(client, settings, async_sessionmaker()) as workers:
        return {w.task_queue: w.config()["max_task_queue_activities_per_second"] for w in workers}


def test_the_compose_server_orders_each_paced_queue_in_one_partition() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "dynamicconfig.yaml").read_text())
    paced = {EMAIL_SEND_TASK_QUEUE, SMS_SEND_TASK_QUEUE, URGENT_SEND_TASK_QUEUE}
    for key in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions"):
        single = {
            entry["constraints"]["taskQueueName"] for entry in config[key] if entry["value"] == 1
        }
        assert single == paced, key
