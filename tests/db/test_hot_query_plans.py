"""Every lookup on a hot path is served by an index on PostgreSQL, so 11 M fans stay fast.

Each test runs the real code (activities, webhook handlers, API routes), records the SQL it
sends, and asks PostgreSQL to EXPLAIN each statement with `enable_seqscan = off`. On tables of a
test's size the planner rightly prefers a sequential scan, so its choice there would say nothing;
with sequential scans priced out it still falls back to one when no index can serve the query.
So the plan names an index exactly when a usable one exists, whatever the row counts, and the
test needs no millions of generated rows. PostgreSQL only: it is the production database, and a
missing PostgreSQL fails these tests (tests/databases.py), never skips them.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities import audience, ledger
from activities.contracts import (
    DrawLotsInput,
    LapseInput,
    OfferInput,
    RecordEntryInput,
    SendInput,
)
from activities.draws import DrawActivities
from activities.fans import suppressed_channels
from api.app import create_app
from api.feedback import apply_sendgrid_event, apply_sms_keyword
from relay.db.consents import record_consent, suppress_address
from relay.db.engine import create_engine, session_factory
from relay.db.models import (
    Channel,
    CompetitionSession,
    ConsentPurpose,
    Fan,
    Incident,
    Message,
    MessageStatus,
    Ticket,
)
from relay.settings import Settings
from tests.conftest import API_KEY
from tests.databases import postgres_database

Statement = tuple[str, Any]


@dataclass(frozen=True)
class Plans:
    """What PostgreSQL would do for each statement a piece of code sent."""

    indexes: set[str]
    sequential_scans: list[str]  # the statements that would read a whole table


@dataclass(frozen=True)
class World:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    fan: Fan
    message: Message
    session_id: str
    incident_id: str


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    async with postgres_database() as url:
        engine = create_engine(url)
        sessions = session_factory(engine)
        async with sessions() as session:
            fan = Fan(
                external_id=f"plans-{uuid.uuid4().hex}",
                email="plans@example.org",
                phone="+33612345678",
                locale="fr",
                time_zone="Europe/Paris",
            )
            record_consent(fan, ConsentPurpose.SMS_MARKETING, True, "test")
            session.add(fan)
            starts = datetime(2028, 7, 20, 18, tzinfo=UTC)
            competition = CompetitionSession(
                id="ATH-01",
                sport="athletics",
                event_name="100 m final",
                venue="Stade",
                venue_time_zone="Europe/Paris",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
            )
            session.add(competition)
            await session.flush()
            session.add(Ticket(id="T-1", fan_id=fan.id, session_id=competition.id))
            message = Message(
                key="plans:welcome:0",
                fan_id=fan.id,
                journey="club-onboarding",
                journey_version=1,
                step="welcome",
                message="club_welcome",
                channel=Channel.EMAIL,
                category="service",
                status=MessageStatus.SENT,
                decided_at=datetime.now(UTC),
            )
            incident = Incident(
                id="inc_plans",
                message="gate_change",
                parameters={},
                scope={"sessions": [competition.id]},
                channels=["email"],
                valid_until=starts,
                status="active",
            )
            session.add_all([message, incident])
            await suppress_address(session, Channel.SMS, "+33699999999", "replied STOP")
            await session.commit()
        yield World(engine, sessions, fan, message, competition.id, incident.id)
        await engine.dispose()


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[Statement]]:
    """The reading and writing statements the engine sends meanwhile, as the driver got them.

    This engine's only: workers of other tests may share the event loop and the database."""
    statements: list[Statement] = []

    def record(
        connection: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if not executemany and statement.lstrip().upper().startswith(
            ("SELECT", "UPDATE", "DELETE")
        ):
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def plans_of(world: World, code: Callable[[], Awaitable[object]]) -> Plans:
    """Run the code, then EXPLAIN what it sent (without ANALYZE: nothing runs twice)."""
    with recorded(world.engine) as statements:
        await code()
    assert statements, "the code sent no statement to explain"
    indexes: set[str] = set()
    sequential: list[str] = []
    async with world.engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")
        for sql, parameters in statements:
            result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", parameters)
            [[explained]] = result.all()
            for node in _nodes(explained[0]["Plan"]):
                if "Index Name" in node:
                    indexes.add(node["Index Name"])
                if node["Node Type"] == "Seq Scan":
                    sequential.append(f"{node['Relation Name']}: {sql}")
    return Plans(indexes, sequential)


def _send(world: World, **overrides: Any) -> SendInput:
    fields: dict[str, Any] = {
        "fan_id": world.fan.id,
        "key": f"plans:{uuid.uuid4().hex}",
        "journey": "club-onboarding",
        "journey_version": 1,
        "step": "news",
        "message": "club_sports_nudge",
        "channel": "email",
        "category": "marketing",
    }
    return SendInput(**(fields | overrides))


async def test_a_send_finds_its_ledger_row_and_the_fans_caps_and_twins_by_index(
    world: World,
) -> None:
    async def decide() -> None:
        send = _send(world)
        async with world.sessions() as session:
            await ledger.lock_fan(session, world.fan.id)
            row = await ledger.find_or_create(session, send, send.key, "email", "fr")
            await ledger.counted_for_caps(session, world.fan.id, datetime.now(UTC), send.key)
            await ledger.is_duplicate_service(session, row, datetime.now(UTC))
            await suppressed_channels(session, world.fan)
            await session.rollback()
            await ledger.fail_unsettled(session, [send.key], "test")

    plans = await plans_of(world, decide)

    assert plans.sequential_scans == []
    assert {
        "pk_fan",
        "uq_message_key",
        "ix_message_fan_id",
        "ix_suppression_address",
    } <= plans.indexes


async def test_stop_and_start_replies_find_the_fans_by_phone_and_the_suppression_by_address(
    world: World,
) -> None:
    async def reply(keyword: str) -> None:
        async with world.sessions() as session:
            await apply_sms_keyword(session, world.fan.phone or "", keyword)
            await session.rollback()

    stop, start = (
        await plans_of(world, lambda: reply("STOP")),
        await plans_of(world, lambda: reply("START")),
    )

    assert stop.sequential_scans == start.sequential_scans == []
    assert "ix_fan_phone" in stop.indexes
    assert "ix_fan_phone" in start.indexes
    assert start.indexes & {"uq_suppression_channel", "ix_suppression_address"}


async def test_an_email_event_finds_its_message_and_the_fans_by_email(world: World) -> None:
    async def spam_report() -> None:
        async with world.sessions() as session:
            event = {
                "sg_event_id": uuid.uuid4().hex,
                "event": "spamreport",
                "email": world.fan.email,
                "relay_message_id": str(world.message.id),
            }
            await apply_sendgrid_event(session, event)
            await session.rollback()

    plans = await plans_of(world, spam_report)

    assert plans.sequential_scans == []
    assert {"pk_message", "ix_fan_email"} <= plans.indexes


async def test_stats_of_one_journey_incident_progress_and_a_fans_ledger_read_by_index(
    world: World,
) -> None:
    settings = Settings(api_key=API_KEY, secret_key="test-secret-key")
    app = create_app(settings)
    # The lifespan would connect to Temporal, which none of these reads needs.
    app.state.settings, app.state.sessions = settings, world.sessions

    async def read(path: str, **params: str) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://relay",
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as client:
            assert (await client.get(path, params=params)).status_code == 200

    stats = await plans_of(world, lambda: read("/v1/stats", journey="club-onboarding"))
    progress = await plans_of(world, lambda: read(f"/v1/incidents/{world.incident_id}"))
    messages = await plans_of(world, lambda: read(f"/v1/fans/{world.fan.id}/messages"))

    assert stats.sequential_scans == progress.sequential_scans == messages.sequential_scans == []
    assert "ix_message_journey_step_message" in stats.indexes
    assert "ix_message_journey_step_message" in progress.indexes
    assert "ix_message_fan_id" in messages.indexes


@pytest.mark.parametrize(
    ("scope", "index"),
    [
        pytest.param(
            lambda world: {"sessions": [world.session_id]},
            "ix_ticket_session_id_fan_id",
            id="sessions",
        ),
        pytest.param(
            lambda world: {
                "venue": "Stade",
                "from": "2028-07-20T00:00:00+00:00",
                "until": "2028-07-21T00:00:00+00:00",
            },
            "ix_competition_session_venue",
            id="venue",
        ),
        pytest.param(lambda world: {"fans": [world.fan.id]}, "ix_ticket_fan_id", id="fans"),
    ],
)
async def test_an_incident_pages_its_audience_by_index(
    world: World, scope: Callable[[World], dict[str, Any]], index: str
) -> None:
    async def page() -> None:
        async with world.sessions() as session:
            await audience.audience_size(session, scope(world))
            [upto], _ = await audience.page_boundaries(session, scope(world), [], 1000, 1)
            await audience.holders(session, scope(world), [], upto)

    plans = await plans_of(world, page)

    assert plans.sequential_scans == []
    assert index in plans.indexes


async def test_a_draw_reads_only_its_own_entries(world: World) -> None:
    # Offered before the shuffle, no entry is ranked yet: no journey is signalled, so these
    # activities never use their Temporal client.
    draws = DrawActivities(world.sessions, cast(Client, None))
    draw, run = f"plans-{uuid.uuid4().hex[:8]}", ActivityEnvironment().run

    async def hold_the_draw() -> None:
        await run(draws.record_entry, RecordEntryInput(draw, world.fan.id, "entered"))
        await run(draws.offer_places, OfferInput(draw, "torch-relay-draw", 0, 1))
        await run(draws.draw_lots, DrawLotsInput(draw, "seed", datetime.now(UTC).isoformat()))
        await run(draws.lapse_unconfirmed, LapseInput(draw, 0))

    plans = await plans_of(world, hold_the_draw)

    assert plans.sequential_scans == []
    # Both lead with the draw; which one the planner takes for a statement is its business.
    assert plans.indexes & {"pk_draw_entry", "ix_draw_entry_draw_rank"}
