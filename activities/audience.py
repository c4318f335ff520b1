"""Who an incident reaches: ticket holders of the sessions in its scope, in pages.

Keyset pagination on (locale, time zone, fan id) stays fast at any depth, lets a broadcast
resume exactly where it stopped, and keeps fans who read the same rendered body together, so a
page of 1,000 needs one or two provider requests rather than one per language and zone.
A cursor is that triple as a list; the empty list is the start.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from relay.db.models import CompetitionSession, Fan, Ticket

Cursor = list[str]
_ORDER = (Fan.locale, Fan.time_zone, Fan.id)


def _after(cursor: Cursor) -> Any:
    return tuple_(*_ORDER) > tuple_(*cursor) if cursor else True


@dataclass(frozen=True)
class HolderContext:
    """One fan to tell, with their contact and the ticket the message speaks of."""

    fan_id: str
    email: str | None
    phone: str | None
    locale: str
    time_zone: str
    session_id: str
    gate: str | None
    event_name: str
    venue: str
    starts_at: datetime


def _in_scope(statement: Any, scope: dict[str, Any]) -> Any:
    statement = (
        statement.select_from(Ticket)
        .join(CompetitionSession, CompetitionSession.id == Ticket.session_id)
        .join(Fan, Fan.id == Ticket.fan_id)
    )
    if scope.get("sessions"):
        statement = statement.where(Ticket.session_id.in_(scope["sessions"]))
    if scope.get("venue"):
        statement = statement.where(
            CompetitionSession.venue == scope["venue"],
            CompetitionSession.starts_at < datetime.fromisoformat(scope["until"]),
            CompetitionSession.ends_at > datetime.fromisoformat(scope["from"]),
        )
    if scope.get("fans"):
        statement = statement.where(Ticket.fan_id.in_(scope["fans"]))
    return statement


async def audience_size(session: AsyncSession, scope: dict[str, Any]) -> int:
    statement = _in_scope(select(func.count(func.distinct(Ticket.fan_id))), scope)
    return int(await session.scalar(statement) or 0)


async def page_boundaries(
    session: AsyncSession, scope: dict[str, Any], after: Cursor, page_size: int, pages: int
) -> tuple[list[Cursor], bool]:
    """The last cursor of each of the next `pages` pages, and whether the audience ends there."""
    statement = (
        _in_scope(select(*_ORDER).distinct(), scope)
        .where(_after(after))
        .order_by(*_ORDER)
        .limit(page_size * pages)
    )
    keys = [list(row) for row in await session.execute(statement)]
    boundaries = keys[page_size - 1 :: page_size]
    if keys and (not boundaries or boundaries[-1] != keys[-1]):
        boundaries.append(keys[-1])
    return boundaries, len(keys) < page_size * pages


async def holders(
    session: AsyncSession, scope: dict[str, Any], after: Cursor, upto: Cursor
) -> list[HolderContext]:
    """One ticket per fan in (after, upto]: their earliest session in scope. One query for the
    whole page: contact details come with it, so no ORM object is loaded per fan."""
    statement = _in_scope(
        select(
            Ticket.fan_id,
            Fan.email,
            Fan.phone,
            Fan.locale,
            Fan.time_zone,
            Ticket.session_id,
            Ticket.gate,
            CompetitionSession.event_name,
            CompetitionSession.venue,
            CompetitionSession.starts_at,
        ),
        scope,
    ).where(_after(after), tuple_(*_ORDER) <= tuple_(*upto))
    chosen: dict[str, HolderContext] = {}
    for row in await session.execute(
        statement.order_by(Ticket.fan_id, CompetitionSession.starts_at)
    ):
        chosen.setdefault(row.fan_id, HolderContext(*row))
    return list(chosen.values())
