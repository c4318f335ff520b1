"""ticket-buyer: from lottery registration to tickets in hand, or to the next sales phase."""

from datetime import time, timedelta

from journeys.journey import Journey
from journeys.steps import (
    AnyOf,
    Branch,
    CalendarDate,
    Case,
    Deadline,
    EventSaid,
    Not,
    Received,
    Send,
    Start,
    TimedOut,
    Wait,
    WaitFor,
    WaitUntil,
)

WINDOW_CLOSES = CalendarDate("purchase_window_closes")

BOUGHT = (
    Send(
        id="purchase-confirmed", message="purchase_confirmed", channel="email", category="service"
    ),
    Wait(id="before-beneficiaries", duration=timedelta(days=3)),
    Send(
        id="beneficiaries-reminder",
        message="beneficiaries_reminder",
        channel="email",
        category="service",
    ),
    # From here the spectator journey prepares each session with the fan.
    Start(id="hand-off", journey="spectator-previsit"),
)

NEXT_PHASE = (
    WaitUntil(
        id="flash-sales-eve",
        date=CalendarDate("flash_sales_open"),
        at=time(18, 0),
        offset=timedelta(days=-1),
    ),
    Send(id="flash-sales", message="flash_sales_open", channel="email", fallback=("sms",)),
)

V1 = Journey(
    name="ticket-buyer",
    version=1,
    description=(
        "Lottery registration confirmed; the draw result; if selected, the purchase slot, a "
        "reminder two days before it closes, the purchase confirmation, the beneficiaries "
        "reminder and the hand-off to spectator-previsit; if not, the next sales phase."
    ),
    entry_event="lottery.registered",
    steps=(
        Send(id="registered", message="lottery_registered", channel="email", category="service"),
        WaitFor(
            id="draw",
            event="lottery.drawn",
            until=Deadline(CalendarDate("lottery_draw"), at=time(23, 0), offset=timedelta(days=7)),
        ),
        Branch(
            id="draw-result",
            cases=(
                # No result by a week after the draw: say nothing about it, move on below.
                Case(when=TimedOut("draw"), steps=()),
                Case(
                    when=EventSaid("draw", "result", "selected"),
                    steps=(
                        Send(
                            id="selected",
                            message="lottery_selected",
                            channel="email",
                            category="service",
                            fallback=("sms",),
                        ),
                        WaitFor(
                            id="purchase",
                            event="ticket.purchased",
                            until=Deadline(WINDOW_CLOSES, at=time(10), offset=timedelta(days=-2)),
                        ),
                        Branch(
                            id="remind-unless-bought",
                            cases=(
                                Case(
                                    when=Not(Received("purchase")),
                                    steps=(
                                        Send(
                                            id="purchase-reminder",
                                            message="purchase_reminder",
                                            channel="email",
                                            category="service",
                                            fallback=("sms",),
                                        ),
                                        WaitFor(
                                            id="late-purchase",
                                            event="ticket.purchased",
                                            until=Deadline(WINDOW_CLOSES, at=time(23, 59)),
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
            otherwise=(
                Send(
                    id="not-selected",
                    message="lottery_not_selected",
                    channel="email",
                    category="service",
                ),
            ),
        ),
        Branch(
            id="purchased",
            cases=(
                Case(
                    when=AnyOf((Received("purchase"), Received("late-purchase"))),
                    steps=BOUGHT,
                ),
            ),
            # Not selected, or the slot passed unused: the next sales phase.
            otherwise=NEXT_PHASE,
        ),
    ),
    exit_on=("fan.unsubscribed_all",),
)
