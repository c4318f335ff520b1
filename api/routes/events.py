"""Events from API clients (ticketing, club site, volunteer portal) to fans' journeys."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field

from api import feedback
from api.deps import SessionDep, TemporalDep
from api.problems import ProblemError
from api.routes.tickets import resolve_fans
from api.schemas import IsoDateTime
from api.schemas_events import FanReference
from api.validation import allowed
from journeys.events import EVENT_TYPES, INTERNAL_EVENT_TYPES, data_problems
from runs.client import deliver_event
from runs.contracts import ReceivedEvent

router = APIRouter(prefix="/v1/events", tags=["events"])


PUBLIC_TYPES = sorted(set(EVENT_TYPES) - INTERNAL_EVENT_TYPES)


def _known_type(value: str) -> str:
    if value in INTERNAL_EVENT_TYPES:
        raise ValueError(f"{value!r} events come from the engine itself, not from clients")
    if value not in EVENT_TYPES:
        raise ValueError(f"unknown event type {value!r}; known: {', '.join(PUBLIC_TYPES)}")
    return value


class EventRequest(FanReference):
    event_id: str = Field(min_length=1, max_length=100)
    type: Annotated[
        str, AfterValidator(_known_type), Field(json_schema_extra=allowed(PUBLIC_TYPES))
    ]
    # Checked against the type's declared schema (journeys/events.py); bounded here first.
    data: dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=10
    )
    occurred_at: IsoDateTime | None = None


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
    event = received_event(request)
    # Deliver first, record after: a client retrying after a failure re-delivers, and the
    # runs themselves ignore an event id they have seen.
    if await feedback.seen(db, f"event:{request.event_id}"):
        return EventResponse(event_id=request.event_id, duplicate=True, delivered_to=[])
    delivered = await deliver_event(temporal, fan_id, event)
    await feedback.first_time(db, f"event:{request.event_id}")
    await db.commit()
    return EventResponse(event_id=request.event_id, duplicate=False, delivered_to=delivered)


def received_event(request: EventRequest) -> ReceivedEvent:
    return ReceivedEvent(
        event_id=request.event_id,
        type=request.type,
        data=dict(request.data),
        occurred_at=(request.occurred_at or datetime.now().astimezone()).isoformat(),
    )
