"""What a journey message's template can use: the fan's name, zone and time zone, the step's
parameters, and the ticketed sessions a ForEach item names.

Journey templates may use: `first_name` (or None), `zone` (france, eu, schengen, elsewhere),
`time_zone`, `interests` (list of sports), `calendar` (the edition's dates by name), the
step's parameters (for spectator journeys
`session_id` and `starts_at`), and `sessions`: a list of `SessionView`, empty when the step
names none.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from journeys.calendar import CALENDAR, EDITION_TIME_ZONE
from journeys.locales import residence_zone
from journeys.messages import SessionView
from relay.db.models import CompetitionSession, Fan, Ticket


async def journey_context(
    session: AsyncSession, fan: Fan, parameters: dict[str, str]
) -> dict[str, Any]:
    return {
        "first_name": fan.first_name,
        "zone": residence_zone(fan.country),
        "time_zone": fan.time_zone,
        "interests": list(fan.interests),
        "calendar": CALENDAR,
        **parameters,
        "sessions": await _sessions(session, fan.id, parameters),
    }


async def _sessions(
    session: AsyncSession, fan_id: str, parameters: dict[str, str]
) -> list[SessionView]:
    ids = parameters.get("session_id", "").split()
    if not ids:
        return []
    found = await session.execute(
        select(CompetitionSession, Ticket.gate)
        .outerjoin(Ticket, (Ticket.session_id == CompetitionSession.id) & (Ticket.fan_id == fan_id))
        .where(CompetitionSession.id.in_(ids))
    )
    known = {
        s.id: SessionView(s.id, s.event_name, s.venue, s.venue_time_zone, s.starts_at, gate)
        for s, gate in found
    }
    # A session ticketing has not loaded yet still shows, by its id and the event's time.
    fallback_start = datetime.fromisoformat(parameters.get("starts_at", "1970-01-01T00:00+00:00"))
    views = [
        known.get(i) or SessionView(i, i, None, EDITION_TIME_ZONE, fallback_start, None)
        for i in ids
    ]
    return sorted(views, key=lambda view: view.starts_at)
