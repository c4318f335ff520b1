"""Events from API clients (ticketing, club site, volunteer portal) to fans' journeys."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import feedback
from api.deps import SessionDep, TemporalDep
from api.journey_runs import start_journey
from api.problems import ProblemError
from api.routes.tickets import resolve_fans
from api.schemas_events import FanReference
from journeys.events import EVENT_TYPES, INTERNAL_EVENT_TYPES, data_problems
from journeys.registry import JOURNEYS
from workflows.journey import JourneyWorkflow, ReceivedEvent, journey_workflow_id

router = APIRouter(prefix="/v1/events", tags=["events"])


def _known_type(value: str) -> str:
    public = sorted(set(EVENT_TYPES) - INTERNAL_EVENT_TYPES)
    if value in INTERNAL_EVENT_TYPES:
        raise ValueError(f"{value!r} events come from the engine itself, not from clients")
    if value not in EVENT_TYPES:
        raise ValueError(f"unknown event type {value!r}; known: {', '.join(public)}")
    return value


class EventRequest(FanReference):
    event_id: str = Field(min_length=1, max_length=100)
    type: Annotated[str, AfterValidator(_known_type)]
    data: dict[str, Annotated[str, Field(max_length=500)]] = Field(default_factory=dict)
    occurred_at: AwareDatetime | None = None


class EventResponse(BaseModel):
    event_id: str
    duplicate: bool
    # Journey runs the event reached (started or signalled).
    delivered_to: list[str]


@router.post("", response_model=EventResponse, status_code=202)
async def receive(request: EventRequest, db: SessionDep, temporal: TemporalDep) -> EventResponse:
    problems = data_problems(request.type, request.data)
    if problems:
        raise ProblemError(422, f"{request.type} event data: {'; '.join(problems)}")
    [fan_id] = await resolve_fans(db, [request])
    event = ReceivedEvent(
        event_id=request.event_id,
        type=request.type,
        data=dict(request.data),
        occurred_at=(request.occurred_at or datetime.now().astimezone()).isoformat(),
    )
    # Deliver first, record after: a client retrying after a failure re-delivers, and the
    # runs themselves ignore an event id they have seen.
    if await feedback.seen(db, f"event:{request.event_id}"):
        return EventResponse(event_id=request.event_id, duplicate=True, delivered_to=[])
    delivered = await _deliver(temporal, fan_id, event)
    await feedback.first_time(db, f"event:{request.event_id}")
    await db.commit()
    return EventResponse(event_id=request.event_id, duplicate=False, delivered_to=delivered)


async def _deliver(temporal: Client, fan_id: str, event: ReceivedEvent) -> list[str]:
    delivered = []
    for name, versions in sorted(JOURNEYS.items()):
        newest = versions[max(versions)]
        if newest.entry_event == event.type:
            try:
                await start_journey(temporal, newest, fan_id, event)
            except WorkflowAlreadyStartedError:
                continue  # lived this journey already, and it is over
            delivered.append(journey_workflow_id(name, fan_id))
        elif any(event.type in j.listens_to() for j in versions.values()):
            handle = temporal.get_workflow_handle(journey_workflow_id(name, fan_id))
            try:
                await handle.signal(JourneyWorkflow.event, event)
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # not on this journey, or no longer
            delivered.append(handle.id)
    return delivered
