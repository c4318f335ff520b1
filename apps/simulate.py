"""`relay journeys simulate`: a fan's five years of messages in a minute.

The real interpreter, activities, database code, renderer and provider SDKs run against
Temporal's time-skipping test server, a fresh SQLite file and an in-process provider sandbox;
a script of events (lottery result, purchases, volunteer decision, torch confirmation) is
played at its dates, and the ledger becomes a timeline of what the fan receives.
"""

import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from journeys.calendar import CALENDAR, EDITION_TIME_ZONE, at_local_time
from journeys.registry import DRAWS, JOURNEYS, latest_journey
from relay.db.engine import create_engine, session_factory
from relay.db.models import Base, CompetitionSession, Consent, Fan, Message, Ticket
from relay.db.urls import async_database_url
from relay.settings import Settings
from relay.temporal import register_search_attributes
from runs.client import deliver_event, start_journey
from runs.contracts import ReceivedEvent, journey_workflow_id
from sandbox.app import create_sandbox_app
from sandbox.store import SandboxStore
from sandbox.threaded import serve_in_thread
from worker import open_workers
from workflows.draw import ensure_draws

# The workers' build id: without one, the SDK hashes the code of every loaded module (about
# half a second of a simulation); the time-skipping server's runs never need to tell
# builds apart.
TIME_SKIPPING_BUILD_ID = "relay-time-skipping"


@dataclass(frozen=True)
class SampleProfile:
    first_name: str
    locale: str
    country: str
    time_zone: str
    phone: str


PROFILES = {
    "lyon": SampleProfile("Camille", "fr", "FR", "Europe/Paris", "+33612345678"),
    "osaka": SampleProfile("Haruto", "ja", "JP", "Asia/Tokyo", "+819012345678"),
}


@dataclass(frozen=True)
class Scripted:
    """An event the fan's world sends at a moment (start with `type="enroll"`, data journey)."""

    at: datetime
    type: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    journey: str
    step: str
    message: str
    channel: str
    status: str
    reason: str
    # What the fan saw: the email subject or the SMS text, as the sandbox received it.
    seen: str


def paris(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A moment on the edition's clock."""
    return at_local_time(day, time(hour, minute), EDITION_TIME_ZONE)


# The ticketed sessions of the default story: two on one day (they merge), one later.
SESSIONS = (
    ("SIM-ATH-100", "Athletics: Men's 100m Final", "Stade de France", 2, 21, 0, "K"),
    ("SIM-ATH-PV", "Athletics: Women's Pole Vault Final", "Stade de France", 2, 19, 30, "K"),
    ("SIM-JUD-TEAM", "Judo: Mixed Team Final", "Champ-de-Mars Arena", 6, 16, 0, "B"),
)


def session_start(days_after_opening: int, hour: int, minute: int) -> datetime:
    return paris(CALENDAR["games_open"] + timedelta(days=days_after_opening), hour, minute)


def default_script(start: datetime) -> list[Scripted]:
    """A fan who joins the club today and then lives every journey: lottery (drawn, buys
    two same-day sessions, later a third), volunteering (accepted), the torch relay (drawn,
    confirms)."""
    c = CALENDAR
    purchases = [
        Scripted(
            paris(when, 11),
            "ticket.purchased",
            {"session_id": sid, "starts_at": session_start(d, h, m).isoformat()},
        )
        for (sid, _, _, d, h, m, _), when in zip(
            SESSIONS,
            (
                c["lottery_draw"] + timedelta(days=3),
                c["lottery_draw"] + timedelta(days=3),
                c["flash_sales_open"] + timedelta(days=1),
            ),
            strict=True,
        )
    ]
    return sorted(
        [
            Scripted(start, "enroll", {"journey": "club-onboarding"}),
            Scripted(start + timedelta(days=45), "volunteer.applied"),
            Scripted(start + timedelta(days=60), "torch.applied"),
            Scripted(paris(c["lottery_opens"], 9), "lottery.registered"),
            Scripted(paris(c["lottery_draw"], 15), "lottery.drawn", {"result": "selected"}),
            *purchases,
            Scripted(start + timedelta(days=120), "volunteer.interviewed"),
            Scripted(start + timedelta(days=150), "volunteer.decided", {"decision": "accepted"}),
            Scripted(paris(c["torch_relay_draw"] + timedelta(days=2), 9), "torch.confirmed"),
        ],
        key=lambda s: s.at,
    )


def other_paths_script(start: datetime) -> list[Scripted]:
    """The other branches: a fan who names their sports at once, is declined as a volunteer,
    is not drawn for the torch relay (never confirms anything) and not drawn for tickets."""
    noon = paris(CALENDAR["lottery_draw"], 12)
    return [
        Scripted(start, "enroll", {"journey": "club-onboarding"}),
        Scripted(start + timedelta(hours=3), "profile.interests_updated"),
        Scripted(start + timedelta(days=10), "volunteer.applied"),
        Scripted(start + timedelta(days=30), "volunteer.decided", {"decision": "declined"}),
        Scripted(start + timedelta(days=40), "torch.applied"),
        Scripted(noon - timedelta(days=20), "lottery.registered"),
        Scripted(noon, "lottery.drawn", {"result": "not_selected"}),
    ]


async def add_sample_fan(sessions: async_sessionmaker[AsyncSession], profile: SampleProfile) -> str:
    tag = uuid.uuid4().hex[:8]
    fan = Fan(
        external_id=f"simulated-{tag}",
        email=f"{profile.first_name.lower()}-{tag}@example.org",
        phone=profile.phone,
        first_name=profile.first_name,
        locale=profile.locale,
        country=profile.country,
        time_zone=profile.time_zone,
        interests=[],
        consents=[
            Consent(purpose=purpose, granted=True, source="simulate")
            for purpose in ("email_marketing", "sms_marketing")
        ],
    )
    async with sessions() as session:
        session.add(fan)
        for sid, name, venue, days, hour, minute, gate in SESSIONS:
            starts = session_start(days, hour, minute)
            if await session.get(CompetitionSession, sid) is None:
                session.add(
                    CompetitionSession(
                        id=sid,
                        sport=name.split(":")[0],
                        event_name=name,
                        venue=venue,
                        venue_time_zone=EDITION_TIME_ZONE,
                        starts_at=starts,
                        ends_at=starts + timedelta(hours=2),
                        gates=[gate],
                    )
                )
        await session.flush()
        session.add_all(
            Ticket(id=f"{sid}-{tag}", fan_id=fan.id, session_id=sid, gate=gate)
            for sid, *_, gate in SESSIONS
        )
        await session.commit()
        return fan.id


async def play(
    env: WorkflowEnvironment, client: Client, scripts: Mapping[str, Sequence[Scripted]]
) -> None:
    """Play each fan's script at its moments (all fans on one clock), then let every journey
    of those fans run to its end."""
    moments = sorted(
        (
            (scripted.at, fan_id, number, scripted)
            for fan_id, script in scripts.items()
            for number, scripted in enumerate(script)
        ),
        key=lambda entry: entry[0],
    )
    for at, fan_id, number, scripted in moments:
        now = await env.get_current_time()
        if at > now:
            await env.sleep(at - now)
        if scripted.type == "enroll":
            await start_journey(client, latest_journey(scripted.data["journey"]), fan_id)
            continue
        event = ReceivedEvent(
            event_id=f"simulated-{fan_id}-{number}",
            type=scripted.type,
            data=dict(scripted.data),
            occurred_at=at.isoformat(),
        )
        await deliver_event(client, fan_id, event)
    for fan_id in scripts:
        await finish_all(env, client, fan_id)


async def finish_all(env: WorkflowEnvironment, client: Client, fan_id: str) -> None:
    """Move time on, a year at a time, until every journey run of the fan has ended.

    (The test server skips time by itself only while a handle from `start_workflow` awaits
    its result; runs started by events and by other journeys have no such handle here. Within
    a sleep it jumps from timer to timer, so a long step costs no more than a short one, and
    each step is a round of checks fewer.)
    """
    while await _running_journeys(client, fan_id):
        await env.sleep(timedelta(days=365))


async def _running_journeys(client: Client, fan_id: str) -> list[str]:
    running = []
    for name in sorted(JOURNEYS):
        handle = client.get_workflow_handle(journey_workflow_id(name, fan_id))
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        if description.status == WorkflowExecutionStatus.RUNNING:
            running.append(name)
    return running


async def timeline(
    sessions: async_sessionmaker[AsyncSession], store: SandboxStore, fan_id: str
) -> list[TimelineEntry]:
    # SendGrid message ids name the request; the sandbox adds ".<n>" per recipient, as
    # SendGrid's event ids do.
    seen = {
        m.provider_message_id.split(".")[0]: m.subject or m.text or "" for m in store.messages()
    }
    async with sessions() as session:
        rows = await session.scalars(
            select(Message).where(Message.fan_id == fan_id).order_by(Message.decided_at, Message.id)
        )
        return [
            TimelineEntry(
                at=row.decided_at or row.created_at,
                journey=row.journey,
                step=row.step,
                message=row.message,
                channel=row.channel,
                status=row.status,
                reason=row.reason or "",
                seen=seen.get(row.provider_message_id or "", ""),
            )
            for row in rows
        ]


@asynccontextmanager
async def time_skipping_workers(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server with Relay's workers running on it."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server")
    )
    try:
        # Without them, the first search-attribute upsert retries forever.
        await register_search_attributes(env.client, env.client.namespace)
        async with (
            open_workers(env.client, settings, sessions, TIME_SKIPPING_BUILD_ID) as workers,
            AsyncExitStack() as stack,
        ):
            for worker in workers:
                await stack.enter_async_context(worker)
            yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def simulation() -> AsyncIterator[
    tuple[WorkflowEnvironment, async_sessionmaker[AsyncSession], SandboxStore]
]:
    """A time-skipping Temporal, a fresh SQLite file, a sandbox and Relay's workers."""
    store = SandboxStore()
    with tempfile.TemporaryDirectory(prefix="relay-simulate-") as folder:
        url = async_database_url(f"sqlite:///{Path(folder) / 'relay.db'}")
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            # A new file needs no migrations: the models' schema is the migrated one
            # (tests/db/test_migrations.py), and creating it skips loading Alembic.
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            with serve_in_thread(create_sandbox_app(store)) as sandbox_url:
                settings = Settings(
                    database_url=url,
                    sendgrid_api_url=sandbox_url,
                    twilio_api_url=sandbox_url,
                    secret_key="simulation",
                )
                async with time_skipping_workers(settings, sessions) as env:
                    await ensure_draws(env.client, DRAWS)
                    yield env, sessions, store
        finally:
            await engine.dispose()


async def simulate(profile_name: str) -> tuple[SampleProfile, list[TimelineEntry]]:
    profile = PROFILES[profile_name]
    async with simulation() as (env, sessions, store):
        fan_id = await add_sample_fan(sessions, profile)
        await play(env, env.client, {fan_id: default_script(await env.get_current_time())})
        return profile, await timeline(sessions, store, fan_id)


def format_timeline(profile: SampleProfile, entries: Sequence[TimelineEntry]) -> str:
    zone = ZoneInfo(profile.time_zone)
    lines = [
        f"{profile.first_name} ({profile.locale}, {profile.country}, {profile.time_zone}): "
        f"{sum(e.status == 'sent' for e in entries)} messages sent, "
        f"{sum(e.status != 'sent' for e in entries)} held back"
    ]
    for e in entries:
        when = e.at.astimezone(zone).strftime("%Y-%m-%d %a %H:%M")
        outcome = e.status if not e.reason else f"{e.status} ({e.reason})"
        seen = " ".join(e.seen.split())[:70]
        lines.append(f"{when}  {e.journey:<19} {e.message:<22} {e.channel:<5} {outcome:<18} {seen}")
    return "\n".join(lines)
