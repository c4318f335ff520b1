"""Incident broadcast benchmark: N ticket holders of one session, activation to last message.

    python bench/incident.py --fans 50000 [--channel email|sms] [--database-url URL]

Runs the real engine (Temporal dev server, a `relay worker` process, the API in process, the
provider sandbox as its own process) and then the floor: the same audience query, rendering
and provider calls in a plain asyncio loop, without Temporal or the ledger. Prints both and
their ratio; the last line is `ratio: X.XX` (engine time / floor time).
"""
# ruff: noqa: ASYNC220, ASYNC230  (helper processes and their log start once, before timing)

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.incidents.rendering import (  # noqa: E402
    GATE_PLACEHOLDER,
    gate_substitutions,
    with_text_gate,
)
from activities.providers.email import MAX_PERSONALIZATIONS, OutgoingEmail, Recipient  # noqa: E402
from activities.providers.sms import OutgoingSms  # noqa: E402
from api.app import create_app  # noqa: E402
from journeys.incidents import template_values  # noqa: E402
from journeys.locales import SUPPORTED_LOCALES  # noqa: E402
from relay.db.engine import create_engine, session_factory  # noqa: E402
from relay.db.migrate import upgrade_to_head_async  # noqa: E402
from relay.db.models import CompetitionSession, Fan, Ticket, new_fan_id, utcnow  # noqa: E402
from relay.settings import Settings  # noqa: E402
from worker import open_send_activities  # noqa: E402

ZONES = {"fr": "Europe/Paris", "en": "Europe/London", "es": "Europe/Madrid", "de": "Europe/Berlin",
         "it": "Europe/Rome", "pt": "Europe/Lisbon", "ar": "Asia/Dubai", "zh": "Asia/Shanghai",
         "ja": "Asia/Tokyo"}  # fmt: skip
GATES = "ABCDEFGH"
PARAMETERS = {"to_gate": "K"}
BIN = Path(sys.executable).parent


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def load_audience(settings: Settings, fans: int, channel: str) -> str:
    engine = create_engine(settings.sqlalchemy_url)
    session_id = "BENCH-100M-FINAL"
    async with engine.begin() as db:
        await db.execute(
            insert(CompetitionSession),
            [{"id": session_id, "sport": "Athletics", "event_name": "Men's 100m Final",
              "venue": "Stade de France", "venue_time_zone": "Europe/Paris",
              "starts_at": datetime(2028, 7, 30, 19, tzinfo=UTC),
              "ends_at": datetime(2028, 7, 30, 21, tzinfo=UTC), "gates": list(GATES),
              "updated_at": utcnow()}],
        )  # fmt: skip
        for start in range(0, fans, 10_000):
            rows: list[dict[str, Any]] = []
            tickets: list[dict[str, Any]] = []
            for n in range(start, min(start + 10_000, fans)):
                locale = SUPPORTED_LOCALES[n % len(SUPPORTED_LOCALES)]
                fan_id = new_fan_id()
                rows.append({
                    "id": fan_id, "external_id": f"bench-{n}",
                    "email": f"fan{n}@bench.example.org" if channel == "email" else None,
                    "phone": f"+3361{n:07d}", "locale": locale, "time_zone": ZONES[locale],
                    "interests": [], "created_at": utcnow(), "updated_at": utcnow(),
                })  # fmt: skip
                tickets.append({"id": f"bench-t-{n}", "fan_id": fan_id, "session_id": session_id,
                                "gate": GATES[n % len(GATES)], "seats": 1,
                                "updated_at": utcnow()})  # fmt: skip
            await db.execute(insert(Fan), rows)
            await db.execute(insert(Ticket), tickets)
    await engine.dispose()
    return session_id


async def sandbox_stats(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/api/stats")).json())


async def wait_for(client: httpx.AsyncClient, count: int, within_seconds: float) -> float:
    """Wait until the sandbox holds `count` messages; the unix time of the last one."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        stats = await sandbox_stats(client)
        if stats["count"] >= count:
            return datetime.fromisoformat(stats["last_received_at"]).timestamp()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"only {(await sandbox_stats(client))['count']} of {count} arrived")


async def run_engine(settings: Settings, session_id: str, fans: int, channel: str) -> float:
    # BENCH_PROFILE_WORKER=/tmp/worker.prof profiles the worker with cProfile.
    profile = os.environ.get("BENCH_PROFILE_WORKER")
    profiling = ["-m", "cProfile", "-o", profile] if profile else []
    worker = subprocess.Popen(
        [sys.executable, *profiling, "-m", "apps.cli", "worker"], cwd=ROOT,
        env={**os.environ, **environment(settings)},
        stdout=subprocess.DEVNULL, stderr=open(os.environ.get("BENCH_WORKER_LOG", os.devnull), "w"),
    )  # fmt: skip
    app = create_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay",
                              headers={"Authorization": f"Bearer {settings.api_key}"}) as api,
            httpx.AsyncClient(base_url=settings.sandbox_url, timeout=60) as sandbox,
        ):  # fmt: skip
            await asyncio.sleep(2)  # let the worker connect and poll
            started = time.time()
            response = await api.post("/v1/incidents", json={
                "message": "incident_gate_change", "parameters": PARAMETERS,
                "scope": {"sessions": [session_id]}, "channels": [channel],
            })  # fmt: skip
            response.raise_for_status()
            last = await wait_for(sandbox, fans, within_seconds=600)
            return last - started
    finally:
        worker.terminate()
        worker.wait(30)


async def run_floor(settings: Settings, session_id: str, fans: int, channel: str) -> float:
    """The same audience query, one render per variant, the same provider calls: no engine."""
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    async with (
        open_send_activities(settings, sessions) as sends,
        httpx.AsyncClient(base_url=settings.sandbox_url, timeout=60) as sandbox,
    ):
        await sandbox.delete("/api/messages")
        started = time.time()
        async with sessions() as db:
            rows = (await db.execute(
                select(Fan.id, Fan.email, Fan.phone, Fan.locale, Fan.time_zone, Ticket.gate,
                       CompetitionSession.event_name, CompetitionSession.venue,
                       CompetitionSession.starts_at)
                .join(Ticket, Ticket.fan_id == Fan.id)
                .join(CompetitionSession, CompetitionSession.id == Ticket.session_id)
                .where(Ticket.session_id == session_id)
            )).all()  # fmt: skip
        groups: dict[tuple[str, str, str | None], list[Any]] = defaultdict(list)
        for row in rows:
            # As the engine does: email shares a body across gates (per-recipient substitution).
            groups[(row.locale, row.time_zone, row.gate if channel == "sms" else None)].append(row)
        in_flight = asyncio.Semaphore(4 if channel == "email" else 50)

        async def send_email(chunk: list[Any], rendered: Any) -> None:
            async with in_flight:
                recipients = [
                    Recipient(r.email, {"relay_message_id": r.id}, gate_substitutions(r.gate))
                    for r in chunk
                ]
                await sends.email.send(
                    OutgoingEmail(recipients, rendered.subject, rendered.html, rendered.text)
                )

        async def send_sms(row: Any, body: str) -> None:
            async with in_flight:
                await sends.sms.send(OutgoingSms(row.phone, body))

        work = []
        for (locale, zone, gate), members in groups.items():
            first = members[0]
            context = {"event_name": first.event_name, "venue": first.venue,
                       "starts_at": first.starts_at, "time_zone": zone,
                       "gate": gate or GATE_PLACEHOLDER,
                       "parameters": PARAMETERS,
                       **template_values("incident_gate_change", PARAMETERS)}  # fmt: skip
            if channel == "email":
                rendered = with_text_gate(
                    sends.renderer.render_email("incident_gate_change", locale, context)
                )
                for start in range(0, len(members), MAX_PERSONALIZATIONS):
                    work.append(send_email(members[start : start + MAX_PERSONALIZATIONS], rendered))
            else:
                body = sends.renderer.render_sms("incident_gate_change", locale, context).body
                work += [send_sms(row, body) for row in members]
        await asyncio.gather(*work)
        last = await wait_for(sandbox, fans, within_seconds=600)
    await engine.dispose()
    return last - started


def environment(settings: Settings) -> dict[str, str]:
    return {
        "RELAY_DATABASE_URL": settings.sqlalchemy_url,
        "RELAY_TEMPORAL_ADDRESS": settings.temporal_address,
        "RELAY_SANDBOX_PORT": str(settings.sandbox_port),
        "RELAY_SECRET_KEY": settings.secret_key,
        "RELAY_API_KEY": settings.api_key,
        "NO_PROXY": "127.0.0.1,localhost",
    }


@contextlib.asynccontextmanager
async def bench_engine(
    database_url: str, dev_server_args: Sequence[str] = ()
) -> AsyncIterator[tuple[WorkflowEnvironment, Settings]]:
    """A Temporal dev server, a migrated database (a fresh SQLite file unless a URL is given)
    and the provider sandbox, for one benchmark run; all stopped and removed after it."""
    with tempfile.TemporaryDirectory() as folder:
        temporal = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            dev_server_extra_args=list(dev_server_args),
            ui=False,
        )
        settings = Settings(
            data_dir=Path(folder),
            database_url=database_url or f"sqlite:///{folder}/bench.db",
            temporal_address=temporal.client.service_client.config.target_host,
            sandbox_port=free_port(),
            api_key=secrets.token_hex(8),
            secret_key=secrets.token_hex(8),
        )
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "apps.cli", "sandbox"], cwd=ROOT,
            env={**os.environ, **environment(settings)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await upgrade_to_head_async(settings.sqlalchemy_url)
            yield temporal, settings
        finally:
            sandbox.terminate()
            sandbox.wait(30)
            with contextlib.suppress(Exception):
                await temporal.shutdown()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fans", type=int, default=50_000)
    parser.add_argument("--channel", choices=["email", "sms"], default="email")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    arguments = parser.parse_args()
    async with bench_engine(arguments.database_url) as (_, settings):
        session_id = await load_audience(settings, arguments.fans, arguments.channel)
        engine_seconds = await run_engine(settings, session_id, arguments.fans, arguments.channel)
        floor_seconds = await run_floor(settings, session_id, arguments.fans, arguments.channel)
    fans = arguments.fans
    print(f"fans: {fans}  channel: {arguments.channel}")
    print(f"engine: {engine_seconds:.2f} s  ({fans / engine_seconds:,.0f} messages/s)")
    print(f"floor:  {floor_seconds:.2f} s  ({fans / floor_seconds:,.0f} messages/s)")
    print(f"ratio: {engine_seconds / floor_seconds:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
