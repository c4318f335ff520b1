"""Events in batches: a ticketing opening's `lottery.registered` by the ten thousand."""

import asyncio
from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from api import feedback
from api.batches import Row, RowError, batch_body, first_seen_at, validate_rows
from api.deps import SessionDep, TemporalDep
from api.routes.events import EventRequest, received_event
from api.routes.tickets import find_fans
from journeys.events import data_problems
from runs.client import deliver_event

router = APIRouter(prefix="/v1/events", tags=["events"])
# Signal-with-starts in flight at once: enough to keep Temporal busy, few enough to share it.
MAX_IN_FLIGHT = 50


EventRows = Annotated[list[dict[str, Any]], batch_body("POST /v1/events")]


class EventRowResponse(BaseModel):
    index: int
    # "unavailable": Temporal could not be reached for it; send that event again.
    outcome: Literal["delivered", "duplicate", "rejected", "unavailable"]
    delivered_to: list[str] = []
    errors: list[RowError] = []


class EventBatchResponse(BaseModel):
    delivered: int
    duplicate: int
    rejected: int
    unavailable: int
    results: list[EventRowResponse]


@router.post("/batch", response_model=EventBatchResponse)
async def receive_batch(
    rows: EventRows, db: SessionDep, temporal: TemporalDep
) -> EventBatchResponse:
    """Each row as `POST /v1/events` takes it; each event reaches its journeys with one
    signal-with-start (or signal), a fan's events in the order given. An event id seen
    before, in an earlier request or earlier in this one, has no second effect."""
    validated = validate_rows(EventRequest, rows)
    fan_ids = await _check(db, validated)
    results = {
        row.index: EventRowResponse(index=row.index, outcome="rejected", errors=row.errors)
        for row in validated
        if not row.valid
    }
    repeats = first_seen_at(validated, "event_id")
    ready = [row for row in validated if row.valid and row.index not in repeats]
    seen = await feedback.seen_among(db, [_key(row) for row in ready])
    for index in repeats.keys() | {row.index for row in ready if _key(row) in seen}:
        results[index] = EventRowResponse(index=index, outcome="duplicate")
    fresh = [row for row in ready if row.index not in results]
    results |= await _deliver(temporal, fresh, fan_ids)
    # Deliver first, record after: a retry re-delivers, and runs ignore an event id they saw.
    delivered = [row for row in fresh if results[row.index].outcome == "delivered"]
    await feedback.first_times(db, [_key(row) for row in delivered])
    await db.commit()
    ordered = [results[index] for index in range(len(validated))]
    counts = {
        o: sum(r.outcome == o for r in ordered)
        for o in ("delivered", "duplicate", "rejected", "unavailable")
    }
    return EventBatchResponse(**counts, results=ordered)


def _key(row: Row[EventRequest]) -> str:
    # As POST /v1/events records it: one event id, one effect, whichever route it came by.
    assert row.request is not None
    return f"event:{row.request.event_id}"


async def _check(db: SessionDep, rows: list[Row[EventRequest]]) -> dict[int, str]:
    """What the single route refuses: data against the type's schema, and unknown fans.
    Returns the fan of each row that passes."""
    valid = [row for row in rows if row.valid and row.request]
    for row in valid:
        assert row.request is not None
        for problem in data_problems(row.request.type, row.request.data):
            row.reject("data", f"{row.request.type} event data: {problem}")
    fans = await find_fans(db, [row.request for row in valid if row.request])
    found: dict[int, str] = {}
    for row, fan_id in zip(valid, fans, strict=True):
        if fan_id is None:
            field = "fan_id" if row.request and row.request.fan_id else "fan_external_id"
            row.reject(field, "unknown fan (upsert it with POST /v1/fans)")
        else:
            found[row.index] = fan_id
    return found


async def _deliver(
    temporal: Client, rows: list[Row[EventRequest]], fan_ids: dict[int, str]
) -> dict[int, EventRowResponse]:
    by_fan: dict[str, list[Row[EventRequest]]] = defaultdict(list)
    for row in rows:
        by_fan[fan_ids[row.index]].append(row)
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    results: dict[int, EventRowResponse] = {}

    async def one_fan(fan_id: str, events: list[Row[EventRequest]]) -> None:
        # One fan's events in order: a registration must start the run its draw result reaches.
        async with in_flight:
            for row in events:
                assert row.request is not None
                try:
                    runs = await deliver_event(temporal, fan_id, received_event(row.request))
                except RPCError as error:
                    problem = RowError(field="body", message=f"Temporal: {error.message}; retry")
                    results[row.index] = EventRowResponse(
                        index=row.index, outcome="unavailable", errors=[problem]
                    )
                else:
                    results[row.index] = EventRowResponse(
                        index=row.index, outcome="delivered", delivered_to=runs
                    )

    await asyncio.gather(*(one_fan(fan_id, events) for fan_id, events in by_fan.items()))
    return results
