"""IncidentWorkflow: tell every affected ticket holder, in pages, once, resumable."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        FinishIncidentInput,
        IncidentPageInput,
        IncidentTally,
        PlanIncidentInput,
    )
    from activities.incidents import IncidentActivities
    from relay.task_queues import BROADCAST_TASK_QUEUE, URGENT_SEND_TASK_QUEUE

PAGE_SIZE = 1000
# Pages in flight at once, and pages planned per planning call.
PARALLEL_PAGES = 4
PLANNED_PAGES = 16
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@dataclass(frozen=True)
class IncidentInput:
    incident_id: str
    # Where a continued run picks up (an audience cursor), and what earlier runs achieved.
    resume_after: list[str] = field(default_factory=list)
    audience: int | None = None
    tally: IncidentTally = field(default_factory=IncidentTally)


@dataclass
class IncidentProgress:
    incident_id: str
    status: str
    audience: int | None
    pages_done: int
    tally: IncidentTally


@workflow.defn
class IncidentWorkflow:
    @workflow.init
    def __init__(self, input: IncidentInput) -> None:
        self._progress = IncidentProgress(
            input.incident_id, "sending", input.audience, 0, input.tally
        )
        self._stopped = False

    @workflow.signal
    def stop(self) -> None:
        """Superseded or cancelled: start no new page (pages in flight check the database)."""
        self._stopped = True

    @workflow.query
    def progress(self) -> IncidentProgress:
        return self._progress

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentProgress:
        cursor, in_flight = input.resume_after, set[asyncio.Task[None]]()
        while not self._stopped:
            plan = await workflow.execute_activity_method(
                IncidentActivities.plan_incident,
                PlanIncidentInput(input.incident_id, cursor, PAGE_SIZE, PLANNED_PAGES),
                task_queue=BROADCAST_TASK_QUEUE,
                start_to_close_timeout=timedelta(minutes=2),
            )
            if plan.audience is not None:
                self._progress.audience = plan.audience
            for upto in plan.boundaries:
                await workflow.wait_condition(lambda: len(in_flight) < PARALLEL_PAGES)
                if self._stopped:
                    break
                task = asyncio.create_task(self._page(input.incident_id, cursor, upto))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                cursor = upto
            if plan.exhausted or self._stopped:
                break
            if workflow.info().is_continue_as_new_suggested():
                await asyncio.gather(*in_flight)
                workflow.continue_as_new(
                    IncidentInput(
                        input.incident_id, cursor, self._progress.audience, self._progress.tally
                    )
                )
        await asyncio.gather(*in_flight)
        self._progress.status = "stopped" if self._stopped else "completed"
        await workflow.execute_activity_method(
            IncidentActivities.finish_incident,
            FinishIncidentInput(input.incident_id, "completed"),
            task_queue=BROADCAST_TASK_QUEUE,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return self._progress

    async def _page(self, incident_id: str, after: list[str], upto: list[str]) -> None:
        tally = await workflow.execute_activity_method(
            IncidentActivities.send_incident_page,
            IncidentPageInput(incident_id, after, upto),
            task_queue=URGENT_SEND_TASK_QUEUE,
            start_to_close_timeout=timedelta(minutes=5),
            # A worker killed mid-page is noticed within seconds, not minutes.
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=PAGE_RETRY,
        )
        self._progress.tally.add(tally)
        self._progress.pages_done += 1


def incident_workflow_id(incident_id: str) -> str:
    return f"incident:{incident_id}"
