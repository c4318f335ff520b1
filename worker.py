"""Run Relay's Temporal workers: journeys, incident broadcasts, and provider sends paced per
provider (`relay/task_queues.py`).

Workers are stateless: run as many processes as the load needs.
"""

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.draws import DrawActivities
from activities.enroll import EnrollActivities
from activities.incidents import IncidentActivities
from activities.providers.email import SendGridEmailProvider
from activities.providers.sms import TwilioSmsProvider
from activities.send import SendActivities, SendSettings
from activities.traits import TraitsActivities
from journeys.registry import DRAWS
from journeys.rendering import MessageRenderer
from relay.db.engine import create_engine, session_factory
from relay.settings import Settings
from relay.task_queues import (
    BROADCAST_TASK_QUEUE,
    EMAIL_SEND_TASK_QUEUE,
    JOURNEY_TASK_QUEUE,
    LEGACY_SEND_TASK_QUEUE,
    SMS_SEND_TASK_QUEUE,
    URGENT_SEND_TASK_QUEUE,
)
from relay.temporal import connect_temporal
from workflows.draw import DrawWorkflow, ensure_draws
from workflows.incident import PAGE_SIZE, IncidentWorkflow
from workflows.journey import JourneyWorkflow

log = logging.getLogger("relay.worker")
# Long enough for an in-flight provider call to finish, so it is not retried by another worker.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


@asynccontextmanager
async def open_send_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[SendActivities]:
    """The send activities with their provider clients, closed on the way out."""
    timeout = settings.provider_timeout_seconds
    activities = SendActivities(
        sessions,
        MessageRenderer(),
        SendGridEmailProvider(
            settings.sendgrid_url, settings.sendgrid_api_key, settings.email_from, timeout
        ),
        TwilioSmsProvider(
            settings.twilio_url,
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.sms_from,
            timeout,
        ),
        SendSettings(
            public_url=settings.api_public_url,
            secret_key=settings.require_secret_key(),
            # A call may run for the whole timeout before its evidence can even start.
            evidence_window=timedelta(seconds=timeout + settings.delivery_evidence_seconds),
        ),
    )
    try:
        yield activities
    finally:
        await activities.close()


def send_queue_rates(settings: Settings) -> dict[str, float | None]:
    """Activities a second the server lets each send queue start, for all workers together
    (None: unpaced).

    A journey send is one message on its first channel's provider, which gets what the
    incidents' share leaves. An incident page holds up to a page of messages, on either
    provider, so pages go at the smaller of the providers' incident shares, a page at a time.
    """
    journey, urgent = 1 - settings.urgent_share, settings.urgent_share
    email, sms = settings.sendgrid_rate, settings.twilio_rate
    slowest = min((rate for rate in (email, sms) if rate), default=0.0)
    return {
        EMAIL_SEND_TASK_QUEUE: email * journey or None,
        SMS_SEND_TASK_QUEUE: sms * journey or None,
        URGENT_SEND_TASK_QUEUE: slowest * urgent / PAGE_SIZE or None,
        # Both kinds were scheduled here before sends were paced: the stricter journey rate.
        LEGACY_SEND_TASK_QUEUE: slowest * journey or None,
    }


@asynccontextmanager
async def open_workers(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    build_id: str | None = None,
) -> AsyncIterator[Sequence[Worker]]:
    """Relay's workers for the task queues this process serves (RELAY_WORKER_TASK_QUEUES, by
    default all), not yet running: `run()` them or enter them as context managers.
    Without a `build_id`, the SDK derives one from the code of every loaded module."""
    traits = TraitsActivities(sessions)
    draws = DrawActivities(sessions, client)
    enrollments = EnrollActivities(client)
    rates = send_queue_rates(settings)
    async with open_send_activities(settings, sessions) as sends:
        incidents = IncidentActivities(sessions, sends)
        workflows_and_activities: dict[str, tuple[list[type], list[Callable[..., Any]]]] = {
            JOURNEY_TASK_QUEUE: (
                [JourneyWorkflow, DrawWorkflow],
                [
                    traits.load_traits,
                    draws.record_entry,
                    draws.draw_lots,
                    draws.offer_places,
                    draws.offer_waitlist,
                    draws.lapse_unconfirmed,
                    enrollments.enroll,
                    # Settles ledger rows only: no provider call, so not on a paced queue.
                    sends.give_up_message,
                ],
            ),
            BROADCAST_TASK_QUEUE: (
                [IncidentWorkflow],
                [incidents.plan_incident, incidents.finish_incident],
            ),
            EMAIL_SEND_TASK_QUEUE: ([], [sends.send_message]),
            SMS_SEND_TASK_QUEUE: ([], [sends.send_message]),
            URGENT_SEND_TASK_QUEUE: ([], [incidents.send_incident_page]),
            LEGACY_SEND_TASK_QUEUE: (
                [],
                [
                    sends.send_message,
                    sends.give_up_message,
                    incidents.plan_incident,
                    incidents.send_incident_page,
                    incidents.finish_incident,
                ],
            ),
        }
        yield [
            Worker(
                client,
                task_queue=task_queue,
                workflows=workflows_and_activities[task_queue][0],
                activities=workflows_and_activities[task_queue][1],
                max_task_queue_activities_per_second=rates.get(task_queue),
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
                build_id=build_id,
            )
            for task_queue in served_task_queues(settings, list(workflows_and_activities))
        ]


def served_task_queues(settings: Settings, known: list[str]) -> list[str]:
    """The task queues this worker process polls: processes kept for incidents poll only the
    incidents' queues, so a storm of journeys never takes their CPU."""
    wanted = [name.strip() for name in settings.worker_task_queues.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(
            f"RELAY_WORKER_TASK_QUEUES: no task queue {', '.join(unknown)}; "
            f"known: {', '.join(known)}"
        )
    return wanted or known


async def run_workers(settings: Settings) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    client = await connect_temporal(settings)
    await ensure_draws(client, DRAWS)
    async with open_workers(client, settings, session_factory(engine)) as workers:
        await _run_until_signalled(workers)
    await engine.dispose()


async def _run_until_signalled(workers: Sequence[Worker]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker polling %s", ", ".join(worker.task_queue for worker in workers))
    running = asyncio.ensure_future(asyncio.gather(*(worker.run() for worker in workers)))
    either: list[asyncio.Future[Any]] = [running, asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        # Graceful: running activities finish (or time out) before the process leaves.
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await running
    finally:
        running.cancel()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run_workers(Settings()))


if __name__ == "__main__":
    main()
