"""DrawWorkflow: one per draw (the torch relay), asleep until its calendar date.

On the day it ranks every entry once (fair, seeded, reproducible: activities/draws.py), offers
the places and the waitlist, then, each time the confirmation window has passed, gives the
places nobody confirmed to the next people on the waitlist, until every place is confirmed,
the waitlist is empty or the replacement deadline has come.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import DrawLotsInput, LapseInput, OfferInput
    from activities.draws import DrawActivities
    from journeys.calendar import EDITION_TIME_ZONE, at_local_time, calendar_date
    from journeys.draws import DrawSpec
    from journeys.steps import CalendarDate
    from relay.task_queues import JOURNEY_TASK_QUEUE

ACTIVITY_TIMEOUT = timedelta(minutes=10)
HEARTBEAT = timedelta(minutes=1)
# Confirmations reach the ledger a moment after the journey's own deadline: leave room.
GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class DrawInput:
    """Fixed when the draw starts, so a running draw never changes under its entrants."""

    name: str
    journey: str
    # ISO 8601, edition time zone.
    draws_at: str
    replace_until: str
    places: int
    waitlist: int
    seed: str
    confirm_within_seconds: float


@dataclass
class DrawProgress:
    status: str = "waiting"  # waiting, offering, done
    applicants: int = 0
    digest: str = ""
    offered: int = 0
    waitlisted: int = 0
    lapsed: int = 0
    rounds: int = 0


def draw_workflow_id(name: str) -> str:
    return f"draw:{name}"


def draw_input(spec: DrawSpec) -> DrawInput:
    """The spec with its calendar dates resolved (outside the workflow: plain data in)."""

    def day(ref: object) -> date:
        assert isinstance(ref, CalendarDate), "draws are set on calendar dates"
        return calendar_date(ref.name)

    deadline = spec.replace_until
    return DrawInput(
        name=spec.name,
        journey=spec.journey,
        draws_at=at_local_time(day(spec.date), spec.at, EDITION_TIME_ZONE).isoformat(),
        replace_until=at_local_time(
            day(deadline.date) + deadline.offset, deadline.at, EDITION_TIME_ZONE
        ).isoformat(),
        places=spec.places,
        waitlist=spec.waitlist,
        seed=spec.seed,
        confirm_within_seconds=spec.confirm_within.total_seconds(),
    )


@workflow.defn
class DrawWorkflow:
    def __init__(self) -> None:
        self._progress = DrawProgress()

    @workflow.query
    def progress(self) -> DrawProgress:
        return self._progress

    @workflow.run
    async def run(self, input: DrawInput) -> DrawProgress:
        draws_at = datetime.fromisoformat(input.draws_at)
        if workflow.now() < draws_at:
            await workflow.sleep(draws_at - workflow.now())
        lots = await workflow.execute_activity_method(
            DrawActivities.draw_lots,
            DrawLotsInput(input.name, input.seed, closes_at=input.draws_at),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        self._progress.status = "offering"
        self._progress.applicants, self._progress.digest = lots.applicants, lots.digest
        self._progress.offered = await self._offer(
            DrawActivities.offer_places, input, 0, input.places
        )
        self._progress.waitlisted = await self._offer(
            DrawActivities.offer_waitlist, input, 0, input.waitlist
        )
        round, offered = 0, self._progress.offered
        while offered:
            await workflow.sleep(timedelta(seconds=input.confirm_within_seconds) + GRACE)
            lapsed = await workflow.execute_activity_method(
                DrawActivities.lapse_unconfirmed,
                LapseInput(input.name, round),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
            self._progress.lapsed += lapsed
            if not lapsed or workflow.now() >= datetime.fromisoformat(input.replace_until):
                break
            round += 1
            offered = await self._offer(DrawActivities.offer_places, input, round, lapsed)
            self._progress.offered += offered
            self._progress.rounds = round
        self._progress.status = "done"
        return self._progress

    async def _offer(
        self,
        activity: Callable[[DrawActivities, OfferInput], Awaitable[int]],
        input: DrawInput,
        round: int,
        count: int,
    ) -> int:
        return await workflow.execute_activity_method(
            activity,
            OfferInput(input.name, input.journey, round, count),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
        )


async def ensure_draws(client: Client, specs: Sequence[DrawSpec]) -> None:
    """Start each draw's workflow unless it runs or ran already (called at worker start)."""
    for spec in specs:
        try:
            await client.start_workflow(
                DrawWorkflow.run,
                draw_input(spec),
                id=draw_workflow_id(spec.name),
                task_queue=JOURNEY_TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            pass  # drawn and done: a draw happens once
