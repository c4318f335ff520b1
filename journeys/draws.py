"""Draws (the torch relay): who may win, how many, when, and with which published seed.

`workflows.draw.DrawWorkflow` runs each one; journeys take part with `Record` steps (entered,
confirmed) and hear the outcome as `torch.drawn` events.
"""

from dataclasses import dataclass
from datetime import time, timedelta

from journeys.steps import DateRef, Deadline


@dataclass(frozen=True)
class DrawSpec:
    name: str
    # The journey whose runs hear the outcome.
    journey: str
    date: DateRef
    # Edition time (journeys.calendar.EDITION_TIME_ZONE) the draw takes place.
    at: time
    places: int
    waitlist: int
    # Published before the draw: with the entries' digest it makes the shuffle reproducible.
    seed: str
    confirm_within: timedelta
    # After this, a lapsed place is no longer offered again.
    replace_until: Deadline
