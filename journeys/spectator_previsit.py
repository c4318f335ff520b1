"""spectator-previsit: one run per fan for all their sessions. For each day they hold tickets
on: practical information a month before (with visa advice by residence zone), transport and
gate a week before, a reminder the day before, a survey the day after. Purchases add days,
transfers remove them, and two sessions on one day make one set of messages."""

from dataclasses import replace
from datetime import time, timedelta

from journeys.journey import Journey
from journeys.steps import CalendarDate, ForEach, ItemDate, Send, WaitUntil

SESSION_DAY = ItemDate("starts_at")

V1 = Journey(
    name="spectator-previsit",
    version=1,
    description=(
        "Per ticketed day: J-30 practical information by residence zone, J-7 transport and "
        "gate, J-1 reminder (email and SMS), J+1 survey. Same-day sessions merge."
    ),
    entry_event="ticket.purchased",
    steps=(
        ForEach(
            id="sessions",
            added_by="ticket.purchased",
            removed_by="ticket.transferred_out",
            key="session_id",
            same_day="starts_at",
            until=CalendarDate("games_close"),
            steps=(
                WaitUntil(id="j-30", date=SESSION_DAY, at=time(10), offset=timedelta(days=-30)),
                Send(
                    id="practical",
                    message="previsit_practical",
                    channel="email",
                    category="service",
                ),
                WaitUntil(id="j-7", date=SESSION_DAY, at=time(10), offset=timedelta(days=-7)),
                Send(
                    id="transport",
                    message="previsit_transport",
                    channel="email",
                    category="service",
                ),
                # The eve and the morning after: the fan is at the Games, on the edition's clock.
                # 10:00 in Paris stays the eve in every home zone even after quiet hours
                # (which follow the fan's home zone) defer an SMS to 08:00 there.
                WaitUntil(
                    id="j-1",
                    date=SESSION_DAY,
                    at=time(10),
                    offset=timedelta(days=-1),
                    zone="edition",
                ),
                Send(
                    id="reminder",
                    message="previsit_reminder",
                    channel="sms",
                    category="service",
                    fallback=("email",),
                ),
                WaitUntil(
                    id="j+1",
                    date=SESSION_DAY,
                    at=time(10),
                    offset=timedelta(days=1),
                    zone="edition",
                ),
                Send(
                    id="survey",
                    message="previsit_survey",
                    channel="email",
                    # A survey a week late is no use.
                    on_pressure="skip",
                ),
            ),
        ),
    ),
    exit_on=("fan.unsubscribed_all",),
)


def _at_the_venue(step: Send) -> Send:
    return replace(step, quiet_hours="edition") if step.id == "reminder" else step


_SESSIONS = V1.steps[0]
assert isinstance(_SESSIONS, ForEach)

# v2: the eve's reminder keeps the venue's quiet hours, where the fan is, so a fan from New
# York hears it at 10:00 in Paris rather than at 08:00 back home (14:00 in Paris).
V2 = replace(
    V1,
    version=2,
    description=V1.description + " The eve's reminder keeps the venue's quiet hours.",
    steps=(
        replace(
            _SESSIONS,
            steps=tuple(_at_the_venue(s) if isinstance(s, Send) else s for s in _SESSIONS.steps),
        ),
    ),
)
