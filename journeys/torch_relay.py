"""torch-relay-draw: apply, hear the draw's result, confirm a place in time or lose it to the
waitlist; torchbearers get their logistics, everyone else a consolation and the fan club.

The draw itself is `workflows.draw.TorchDrawWorkflow`: it signals `torch.drawn` (result
selected or waitlisted) to the fans it picks; a fan it does not pick hears nothing and times
out into the consolation.
"""

from datetime import time, timedelta

from journeys.draws import DrawSpec
from journeys.journey import Journey
from journeys.steps import (
    Branch,
    CalendarDate,
    Case,
    Deadline,
    EventSaid,
    Received,
    Record,
    Send,
    Start,
    Step,
    WaitFor,
    WaitUntil,
)

# Winners have this long to confirm; the draw gives unconfirmed places to the waitlist.
CONFIRM_WITHIN = timedelta(days=7)
DRAW_DAY = CalendarDate("torch_relay_draw")
RELAY_STARTS = CalendarDate("torch_relay_starts")
JOURNEY = "torch-relay-draw"

DRAW = DrawSpec(
    name="torch-relay-2028",
    journey=JOURNEY,
    date=DRAW_DAY,
    at=time(12, 0),
    places=3000,
    waitlist=3000,
    seed="torch-relay-2028/published-2027-06-01",
    confirm_within=CONFIRM_WITHIN,
    replace_until=Deadline(RELAY_STARTS, offset=timedelta(days=-60)),
)


def _service(id: str, message: str) -> Send:
    return Send(id=id, message=message, channel="email", category="service")


def _selected(prefix: str) -> tuple[Step, ...]:
    """A place offered: confirm within the deadline, then logistics; or the place lapses."""
    return (
        Send(
            id=f"{prefix}selected",
            message="torch_selected",
            channel="email",
            category="service",
            fallback=("sms",),
        ),
        WaitFor(id=f"{prefix}confirm", event="torch.confirmed", timeout=CONFIRM_WITHIN),
        Branch(
            id=f"{prefix}confirmed",
            cases=(
                Case(
                    when=Received(f"{prefix}confirm"),
                    steps=(
                        Record(id=f"{prefix}confirm-record", draw=DRAW.name, status="confirmed"),
                        WaitUntil(
                            id=f"{prefix}logistics-day",
                            date=RELAY_STARTS,
                            offset=timedelta(days=-45),
                        ),
                        _service(f"{prefix}logistics", "torch_logistics"),
                    ),
                ),
            ),
            otherwise=(_service(f"{prefix}lapsed", "torch_lapsed"),),
        ),
    )


def _consolation(prefix: str) -> tuple[Step, ...]:
    return (
        # The answer to their application, so a service message; the club's news are not.
        _service(f"{prefix}consolation", "torch_consolation"),
        Start(id=f"{prefix}join-club", journey="club-onboarding"),
    )


V1 = Journey(
    name=JOURNEY,
    version=1,
    description=(
        "Application received; the draw; winners confirm within 7 days or the place goes to "
        "the waitlist; logistics for torchbearers; consolation and the fan club for others."
    ),
    entry_event="torch.applied",
    steps=(
        _service("received", "torch_received"),
        Record(id="enter", draw=DRAW.name, status="entered"),
        WaitFor(
            id="draw",
            event="torch.drawn",
            until=Deadline(DRAW_DAY, at=time(20, 0), offset=timedelta(days=1)),
        ),
        Branch(
            id="draw-result",
            cases=(
                Case(when=EventSaid("draw", "result", "selected"), steps=_selected("")),
                Case(
                    when=EventSaid("draw", "result", "waitlisted"),
                    steps=(
                        _service("waitlisted", "torch_waitlisted"),
                        WaitFor(
                            id="waitlist-call",
                            event="torch.drawn",
                            until=Deadline(RELAY_STARTS, offset=timedelta(days=-60)),
                        ),
                        Branch(
                            id="called",
                            cases=(
                                Case(
                                    when=EventSaid("waitlist-call", "result", "selected"),
                                    steps=_selected("waitlist-"),
                                ),
                            ),
                            otherwise=_consolation("waitlist-"),
                        ),
                    ),
                ),
            ),
            otherwise=_consolation(""),
        ),
    ),
    exit_on=("fan.unsubscribed_all",),
)
