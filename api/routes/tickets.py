"""Competition sessions and tickets, loaded in bulk by ticketing."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body
from sqlalchemy import select

from api.deps import SessionDep
from api.problems import ProblemError
from api.schemas import PathId
from api.schemas_events import (
    FanReference,
    LoadedResponse,
    SessionRequest,
    TicketRequest,
    TicketResponse,
    TransferRequest,
)
from api.validation import duplicates
from relay.db.dialect import upsert_many
from relay.db.models import CompetitionSession, Fan, Ticket, utcnow

router = APIRouter(prefix="/v1", tags=["sessions and tickets"])
MAX_SESSIONS = 5_000
MAX_TICKETS = 10_000


@router.put("/sessions", response_model=LoadedResponse)
async def load_sessions(
    sessions: Annotated[list[SessionRequest], Body(max_length=MAX_SESSIONS)], db: SessionDep
) -> LoadedResponse:
    _refuse_duplicates("session", [s.id for s in sessions])
    rows = [{**s.model_dump(), "updated_at": utcnow()} for s in sessions]
    await upsert_many(db, CompetitionSession.__table__, rows, ["id"])  # type: ignore[arg-type]
    await db.commit()
    return LoadedResponse(upserted=len(rows))


@router.post("/tickets", response_model=LoadedResponse)
async def load_tickets(
    tickets: Annotated[list[TicketRequest], Body(max_length=MAX_TICKETS)], db: SessionDep
) -> LoadedResponse:
    """All or nothing: a batch naming an unknown fan or session is refused whole."""
    _refuse_duplicates("ticket", [t.id for t in tickets])
    fan_ids = await resolve_fans(db, tickets)
    known_sessions = set(
        await db.scalars(
            select(CompetitionSession.id).where(
                CompetitionSession.id.in_({t.session_id for t in tickets})
            )
        )
    )
    unknown = sorted({t.session_id for t in tickets} - known_sessions)
    if unknown:
        raise ProblemError(
            422, f"unknown sessions (load them with PUT /v1/sessions): {_few(unknown)}"
        )
    rows = [
        {
            "id": t.id,
            "fan_id": fan_ids[i],
            "session_id": t.session_id,
            "gate": t.gate,
            "seats": t.seats,
            "updated_at": utcnow(),
        }
        for i, t in enumerate(tickets)
    ]
    await upsert_many(db, Ticket.__table__, rows, ["id"])  # type: ignore[arg-type]
    await db.commit()
    return LoadedResponse(upserted=len(rows))


@router.post("/tickets/{ticket_id}/transfer", response_model=TicketResponse)
async def transfer_ticket(
    ticket_id: PathId, request: TransferRequest, db: SessionDep
) -> TicketResponse:
    """The ticket (and every message about it from now on) goes to the new holder."""
    ticket = await db.get(Ticket, ticket_id)
    if ticket is None:
        raise ProblemError(404, f"no ticket with id {ticket_id!r}")
    try:
        reference = request.reference()
    except ValueError:
        raise ProblemError(422, "give exactly one of to_fan_id and to_fan_external_id") from None
    [ticket.fan_id] = await resolve_fans(db, [reference])
    await db.commit()
    return TicketResponse.model_validate(ticket, from_attributes=True)


async def resolve_fans(db: SessionDep, references: Sequence[FanReference]) -> list[str]:
    """Relay fan ids for each reference, in order; 422 naming the unknown ones."""
    found = await find_fans(db, references)
    unknown = sorted(
        {
            r.fan_id or r.fan_external_id or ""
            for r, f in zip(references, found, strict=True)
            if f is None
        }
    )
    if unknown:
        raise ProblemError(422, f"unknown fans (upsert them with POST /v1/fans): {_few(unknown)}")
    return [fan_id for fan_id in found if fan_id is not None]


async def find_fans(db: SessionDep, references: Sequence[FanReference]) -> list[str | None]:
    """Relay fan ids for each reference, in order; None for a fan nobody upserted."""
    by_external = {r.fan_external_id for r in references if r.fan_external_id}
    by_id = {r.fan_id for r in references if r.fan_id}
    found = await db.execute(
        select(Fan.external_id, Fan.id).where(Fan.external_id.in_(by_external))
    )
    external = {external_id: fan_id for external_id, fan_id in found}
    known_ids = set(await db.scalars(select(Fan.id).where(Fan.id.in_(by_id))))
    return [
        (r.fan_id if r.fan_id in known_ids else None)
        if r.fan_id
        else external.get(r.fan_external_id or "")
        for r in references
    ]


def _refuse_duplicates(kind: str, ids: list[str]) -> None:
    # Upserting both would keep whichever came last: the client cannot have meant that.
    repeated = duplicates(ids)
    if repeated:
        raise ProblemError(422, f"duplicate {kind} ids in the batch: {_few(repeated)}")


def _few(items: list[str]) -> str:
    shown = ", ".join(items[:10])
    return shown + (f" and {len(items) - 10} more" if len(items) > 10 else "")
