"""volunteer: from application to the thank-you, through interview, decision, training,
uniform and shifts; at the end, consent to hear about later events."""

from datetime import time, timedelta

from journeys.journey import Journey
from journeys.steps import (
    Branch,
    CalendarDate,
    Case,
    EventSaid,
    Received,
    Send,
    WaitFor,
    WaitUntil,
)

GAMES_OPEN = CalendarDate("games_open")


def _service(id: str, message: str) -> Send:
    return Send(id=id, message=message, channel="email", category="service")


ACCEPTED = (
    _service("accepted", "volunteer_accepted"),
    WaitUntil(
        id="training-week",
        date=CalendarDate("volunteer_training_starts"),
        offset=timedelta(days=-7),
    ),
    _service("training", "volunteer_training"),
    WaitUntil(id="training-refresher", date=GAMES_OPEN, offset=timedelta(days=-60)),
    _service("training-again", "volunteer_training"),
    WaitUntil(id="uniform-day", date=CalendarDate("uniform_pickup_opens")),
    _service("uniform", "volunteer_uniform"),
    WaitUntil(id="shifts-day", date=GAMES_OPEN, offset=timedelta(days=-14)),
    _service("shifts", "volunteer_shifts"),
    WaitUntil(
        id="after-games", date=CalendarDate("games_close"), at=time(11), offset=timedelta(days=7)
    ),
    # Thanks, and consent to be asked again (the legacy hand-over to later championships).
    _service("thanks", "volunteer_thanks"),
)

V1 = Journey(
    name="volunteer",
    version=1,
    description=(
        "Application received; thanks after the interview; the decision; if accepted, training "
        "reminders, uniform pick-up, shift schedule and the thank-you with legacy consent."
    ),
    entry_event="volunteer.applied",
    steps=(
        _service("received", "volunteer_received"),
        WaitFor(id="interviewed", event="volunteer.interviewed", timeout=timedelta(days=120)),
        Branch(
            id="after-interview",
            cases=(
                Case(
                    when=Received("interviewed"),
                    steps=(_service("interview-thanks", "volunteer_interviewed"),),
                ),
            ),
        ),
        WaitFor(id="decision", event="volunteer.decided", timeout=timedelta(days=180)),
        Branch(
            id="decided",
            cases=(
                Case(when=EventSaid("decision", "decision", "accepted"), steps=ACCEPTED),
                Case(
                    when=EventSaid("decision", "decision", "declined"),
                    steps=(_service("declined", "volunteer_declined"),),
                ),
            ),
        ),
    ),
    exit_on=("fan.unsubscribed_all",),
)
