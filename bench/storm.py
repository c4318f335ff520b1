"""Storm benchmark: journeys that all wake at the same minute, and an incident in the middle.

    python bench/storm.py [--journeys 20000] [--holders 5000] [--sendgrid-rate 1000]
                          [--urgent-share 0.98] [--database-url URL]

Runs the real engine (Temporal dev server; two worker processes paced by RELAY_SENDGRID_RATE
and RELAY_URGENT_SHARE, one kept for incidents by RELAY_WORKER_TASK_QUEUES; the API in process;
the provider sandbox as its own process). First an
incident to the holders of one session on the quiet engine; then `--journeys` runs of a journey
that waits for a calendar date (the same minute for all) and sends a service email; once a
quarter of those emails went out, the same incident message again to the same holders. Prints
the journey sends' rate against the configured one, their ledger verdicts, and both incident
times; the last line is `incident: quiet X.XX s, storm Y.YY s`.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, insert, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incident import PARAMETERS, bench_engine, environment, load_audience  # noqa: E402

from api.app import create_app  # noqa: E402
from journeys.calendar import CALENDAR, EDITION_TIME_ZONE  # noqa: E402
from journeys.journey import Journey  # noqa: E402
from journeys.registry import register  # noqa: E402
from journeys.steps import CalendarDate, Send, WaitUntil  # noqa: E402
from relay.db.engine import create_engine  # noqa: E402
from relay.db.models import Fan, Message, new_fan_id, utcnow  # noqa: E402
from relay.settings import Settings  # noqa: E402
from relay.task_queues import (  # noqa: E402
    BROADCAST_TASK_QUEUE,
    EMAIL_SEND_TASK_QUEUE,
    JOURNEY_TASK_QUEUE,
    LEGACY_SEND_TASK_QUEUE,
    SMS_SEND_TASK_QUEUE,
    URGENT_SEND_TASK_QUEUE,
)
from relay.temporal import SINGLE_PARTITION_ARGS, register_search_attributes  # noqa: E402
from runs.client import start_journey  # noqa: E402
from workflows.incident import incident_workflow_id  # noqa: E402

STORM = "storm"
STARTS_IN_FLIGHT = 50
# As in production: a worker process kept for incidents, another for everything else.
LANES = (
    (BROADCAST_TASK_QUEUE, URGENT_SEND_TASK_QUEUE),
    (JOURNEY_TASK_QUEUE, EMAIL_SEND_TASK_QUEUE, SMS_SEND_TASK_QUEUE, LEGACY_SEND_TASK_QUEUE),
)


def storm_journey(wake: datetime) -> Journey:
    """A service email at `wake` (a calendar date at a time of day, as the J-1 reminder)."""
    local = wake.astimezone(ZoneInfo(EDITION_TIME_ZONE))
    CALENDAR[STORM] = local.date()
    journey = Journey(
        name=STORM,
        version=1,
        steps=(
            WaitUntil(id="eve", date=CalendarDate(STORM), at=local.time(), zone="edition"),
            Send(id="reminder", message="club_welcome", channel="email", category="service"),
        ),
    )
    register(journey)
    return journey


def worker_process(
    settings: Settings, arguments: argparse.Namespace, wake: datetime, lane: tuple[str, ...]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", wake.isoformat()], cwd=ROOT,
        env={**os.environ, **environment(settings),
             "RELAY_SENDGRID_RATE": str(arguments.sendgrid_rate),
             "RELAY_URGENT_SHARE": str(arguments.urgent_share),
             "RELAY_WORKER_TASK_QUEUES": ",".join(lane)},
        stdout=subprocess.DEVNULL, stderr=open(os.environ.get("BENCH_WORKER_LOG", os.devnull), "a"),
    )  # fmt: skip


def run_worker(wake: datetime) -> None:
    """`relay worker`, knowing the storm journey (run in its own process)."""
    import worker

    storm_journey(wake)
    worker.main()


async def load_journey_fans(settings: Settings, count: int) -> list[str]:
    engine = create_engine(settings.sqlalchemy_url)
    ids = [new_fan_id() for _ in range(count)]
    async with engine.begin() as db:
        for start in range(0, count, 10_000):
            await db.execute(
                insert(Fan),
                [{"id": fan_id, "external_id": f"storm-{n}",
                  "email": f"storm{n}@bench.example.org", "locale": "en",
                  "time_zone": "Europe/Paris", "interests": [], "created_at": utcnow(),
                  "updated_at": utcnow()}
                 for n, fan_id in enumerate(ids[start : start + 10_000], start)],
            )  # fmt: skip
    await engine.dispose()
    return ids


async def start_journeys(temporal: Client, journey: Journey, fan_ids: list[str]) -> None:
    in_flight = asyncio.Semaphore(STARTS_IN_FLIGHT)

    async def one(fan_id: str) -> None:
        async with in_flight:
            await start_journey(temporal, journey, fan_id)

    await asyncio.gather(*(one(fan_id) for fan_id in fan_ids))


async def until_polled(temporal: Client, task_queue: str) -> None:
    """Wait for the worker process to poll, so its start-up is not counted."""
    request = DescribeTaskQueueRequest(
        namespace=temporal.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    )
    for _ in range(600):
        if (await temporal.workflow_service.describe_task_queue(request)).pollers:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no worker polls {task_queue}")


async def incident_seconds(
    api: httpx.AsyncClient, temporal: Client, session_id: str, key: str
) -> float:
    """Activation to the incident's end (every holder's row settled), in seconds; prints how
    long its pages waited on their queue and ran."""
    started = time.monotonic()
    response = await api.post(
        "/v1/incidents",
        headers={"Idempotency-Key": key},
        json={"message": "incident_gate_change", "parameters": PARAMETERS,
              "scope": {"sessions": [session_id]}, "channels": ["email"]},
    )  # fmt: skip
    response.raise_for_status()
    incident_id = response.json()["id"]
    while True:
        progress = (await api.get(f"/v1/incidents/{incident_id}")).json()
        if progress["status"] != "active" and progress["pending"] == 0:
            assert progress["failed"] == 0, progress
            finished = time.monotonic() - started
            waited, ran = await page_times(temporal, incident_id)
            print(f"  pages waited {max(waited):.2f} s at most on their queue, ran "
                  f"{min(ran):.2f}-{max(ran):.2f} s", flush=True)  # fmt: skip
            return finished
        await asyncio.sleep(0.05)


async def page_times(temporal: Client, incident_id: str) -> tuple[list[float], list[float]]:
    """Per page: seconds from scheduled to started (the queue), and from started to done."""
    scheduled: dict[int, datetime] = {}
    started: dict[int, datetime] = {}
    waited, ran = [], []
    handle = temporal.get_workflow_handle(incident_workflow_id(incident_id))
    async for event in handle.fetch_history_events():
        at = event.event_time.ToDatetime()
        attributes = event.activity_task_scheduled_event_attributes
        if attributes.activity_type.name == "send_incident_page":
            scheduled[event.event_id] = at
        started_of = event.activity_task_started_event_attributes.scheduled_event_id
        if started_of in scheduled:
            started[started_of] = at
            waited.append((at - scheduled[started_of]).total_seconds())
        done_of = event.activity_task_completed_event_attributes.scheduled_event_id
        if done_of in started:
            ran.append((at - started[done_of]).total_seconds())
    return waited, ran


async def storm_sent(sandbox: httpx.AsyncClient) -> list[float]:
    """When each journey email reached the sandbox (unix times, sorted)."""
    messages = (await sandbox.get("/api/messages")).json()
    return sorted(
        datetime.fromisoformat(m["received_at"]).timestamp()
        for m in messages
        if m["to"].startswith("storm")
    )


async def wait_for_storm(sandbox: httpx.AsyncClient, count: int, within: float) -> list[float]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sent = await storm_sent(sandbox)
        if len(sent) >= count:
            return sent
        await asyncio.sleep(1)
    raise TimeoutError(f"only {len(sent)} of {count} journey emails arrived")


async def verdicts(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings.sqlalchemy_url)
    async with engine.connect() as db:
        rows = await db.execute(
            select(Message.status, func.count())
            .where(Message.journey == STORM)
            .group_by(Message.status)
        )
        counted = {str(status): int(n) for status, n in rows}
    await engine.dispose()
    return counted


async def run(arguments: argparse.Namespace, settings: Settings) -> None:
    journeys, holders = arguments.journeys, arguments.holders
    session_id = await load_audience(settings, holders, "email")
    fan_ids = await load_journey_fans(settings, journeys)
    # Far enough ahead for every run to be started (about 200 starts a second here).
    wake = (datetime.now(UTC) + timedelta(seconds=60 + journeys / 100)).replace(
        second=0, microsecond=0
    ) + timedelta(minutes=1)
    journey = storm_journey(wake)
    workers = [worker_process(settings, arguments, wake, lane) for lane in LANES]
    app = create_app(settings)
    temporal = await Client.connect(settings.temporal_address)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay",
                              headers={"Authorization": f"Bearer {settings.api_key}"},
                              timeout=60) as api,
            httpx.AsyncClient(base_url=settings.sandbox_url, timeout=60) as sandbox,
        ):  # fmt: skip
            await until_polled(temporal, URGENT_SEND_TASK_QUEUE)
            quiet = await incident_seconds(api, temporal, session_id, "storm-bench-quiet")
            print(f"quiet incident to {holders} holders: {quiet:.2f} s", flush=True)
            started = time.monotonic()
            await start_journeys(temporal, journey, fan_ids)
            print(f"{journeys} journeys started in {time.monotonic() - started:.0f} s, "
                  f"all waking at {wake:%H:%M} UTC", flush=True)  # fmt: skip
            await wait_for_storm(sandbox, journeys // 4, within=3600)
            storm = await incident_seconds(api, temporal, session_id, "storm-bench-storm")
            print(f"storm incident to {holders} holders: {storm:.2f} s", flush=True)
            sent = await wait_for_storm(sandbox, journeys, within=3600)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    configured = arguments.sendgrid_rate * (1 - arguments.urgent_share)
    rate = (len(sent) - 1) / (sent[-1] - sent[0])
    late = sent[0] - wake.timestamp()
    print(f"journey emails: {len(sent)}, first {late:.1f} s after the wake-up, "
          f"{rate:.1f}/s (configured {configured:.1f}/s)")  # fmt: skip
    print(f"journey ledger: {await verdicts(settings)}")
    print(f"incident: quiet {quiet:.2f} s, storm {storm:.2f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=20_000)
    parser.add_argument("--holders", type=int, default=5_000)
    parser.add_argument("--sendgrid-rate", type=float, default=1000.0, help="emails a second")
    parser.add_argument("--urgent-share", type=float, default=0.98)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    arguments = parser.parse_args()
    async with bench_engine(arguments.database_url, SINGLE_PARTITION_ARGS) as (temporal, settings):
        await register_search_attributes(temporal.client, settings.temporal_namespace)
        await run(arguments, settings)


def _entry(argv: list[str]) -> Any:
    if argv[1:2] == ["--worker"]:
        return run_worker(datetime.fromisoformat(argv[2]))
    return asyncio.run(main())


if __name__ == "__main__":
    _entry(sys.argv)
