"""The step vocabulary journeys are written in: plain, frozen Python data.

`workflows.journey.JourneyWorkflow` interprets it. Each step has an `id`, unique within its
journey: it names the step in the Temporal UI (`JourneyStep`) and, prefixed by the loop
iteration or item it runs in, in ledger keys.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Literal

from journeys.pressure import DEFAULT_MAX_DEFERRAL
from journeys.traits import Traits

# Field metadata: the value of a field added after release that behaves as before it existed.
NEUTRAL = "neutral"


def added_later(neutral: Any) -> Any:
    """A field added to the vocabulary after journeys were released, defaulting to `neutral`
    (the behaviour before it existed). The lock hash leaves it out at that value, so released
    versions that do not use it keep their hash. Never change `neutral`: add another field."""
    return field(default=neutral, metadata={NEUTRAL: neutral})


ChannelName = Literal["email", "sms"]
CategoryName = Literal["marketing", "service", "urgent"]


@dataclass(frozen=True)
class Facts:
    """What predicates may read: PII-free traits, events received, the current item."""

    traits: Traits
    # Per WaitFor step id: the data of the event it received, or {"timed_out": "true"}.
    events: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    item: Mapping[str, str] | None = None


@dataclass(frozen=True)
class HasConsent:
    """True when the fan granted this consent purpose, e.g. "sms_marketing"."""

    purpose: str

    def __call__(self, facts: Facts) -> bool:
        return self.purpose in facts.traits.consents


@dataclass(frozen=True)
class Reachable:
    """True when the fan has an unsuppressed address on this channel."""

    channel: ChannelName

    def __call__(self, facts: Facts) -> bool:
        return self.channel in facts.traits.reachable_channels


@dataclass(frozen=True)
class TraitIn:
    """True when a trait (locale, zone, country, time_zone) is one of `values`."""

    trait: Literal["locale", "zone", "country", "time_zone"]
    values: tuple[str, ...]

    def __call__(self, facts: Facts) -> bool:
        return getattr(facts.traits, self.trait) in self.values


@dataclass(frozen=True)
class HasInterests:
    """True when the fan told us at least one favourite sport."""

    def __call__(self, facts: Facts) -> bool:
        return bool(facts.traits.interests)


@dataclass(frozen=True)
class EventSaid:
    """True when the event a WaitFor step received carries `field` = `value`."""

    wait: str
    field: str
    value: str

    def __call__(self, facts: Facts) -> bool:
        return facts.events.get(self.wait, {}).get(self.field) == self.value


@dataclass(frozen=True)
class TimedOut:
    """True when a WaitFor step gave up waiting."""

    wait: str

    def __call__(self, facts: Facts) -> bool:
        return facts.events.get(self.wait, {}).get("timed_out") == "true"


@dataclass(frozen=True)
class Received:
    """True when a WaitFor step got its event (rather than timing out or not having run)."""

    wait: str

    def __call__(self, facts: Facts) -> bool:
        result = facts.events.get(self.wait)
        return result is not None and result.get("timed_out") != "true"


@dataclass(frozen=True)
class AnyOf:
    predicates: tuple["Predicate", ...]

    def __call__(self, facts: Facts) -> bool:
        return any(predicate(facts) for predicate in self.predicates)


@dataclass(frozen=True)
class AllOf:
    predicates: tuple["Predicate", ...]

    def __call__(self, facts: Facts) -> bool:
        return all(predicate(facts) for predicate in self.predicates)


@dataclass(frozen=True)
class Not:
    predicate: "Predicate"

    def __call__(self, facts: Facts) -> bool:
        return not self.predicate(facts)


Predicate = (
    HasConsent
    | Reachable
    | TraitIn
    | HasInterests
    | EventSaid
    | TimedOut
    | Received
    | AnyOf
    | AllOf
    | Not
)


def reads_traits(predicate: Predicate) -> bool:
    """Whether deciding needs fresh traits (an activity), or only the events received."""
    if isinstance(predicate, AllOf | AnyOf):
        return any(reads_traits(p) for p in predicate.predicates)
    if isinstance(predicate, Not):
        return reads_traits(predicate.predicate)
    return not isinstance(predicate, EventSaid | TimedOut | Received)


@dataclass(frozen=True)
class CalendarDate:
    """A date of the edition's calendar (journeys/calendar.py), by name."""

    name: str


@dataclass(frozen=True)
class ItemDate:
    """A date-time field of the current ForEach item (ISO 8601), e.g. a session's start. Its
    day is the day in the edition's time zone, where sessions take place."""

    field: str


DateRef = CalendarDate | ItemDate


@dataclass(frozen=True)
class Send:
    """Send a library message. `fallback` channels are tried, in order, when `channel` cannot
    be used (no address, no consent, suppressed, refused by the provider).

    Over a cap or in quiet hours, the message waits (`on_pressure="defer"`, at most
    `max_deferral`, then it is skipped as stale) or is skipped at once (`"skip"`).
    """

    id: str
    message: str
    channel: ChannelName
    category: CategoryName = "marketing"
    fallback: tuple[ChannelName, ...] = ()
    on_pressure: Literal["defer", "skip"] = "defer"
    max_deferral: timedelta = DEFAULT_MAX_DEFERRAL
    # Whose night quiet hours keep: the fan's home zone, or the edition's for moments the fan
    # spends at the Games (a reminder on the eve of their session).
    quiet_hours: Literal["fan", "edition"] = added_later("fan")


@dataclass(frozen=True)
class Wait:
    id: str
    duration: timedelta


@dataclass(frozen=True)
class WaitUntil:
    """Until a date (plus `offset` days), at `at` o'clock in the fan's own time zone.

    The local time holds across daylight-saving changes. A moment already past does not wait.
    With `zone="edition"` the day and the time are the edition's (journeys.calendar): for
    moments the fan lives at the venue, such as the eve of their session.
    """

    id: str
    date: DateRef
    at: time = time(10, 0)
    offset: timedelta = timedelta(0)
    zone: Literal["fan", "edition"] = "fan"


@dataclass(frozen=True)
class Deadline:
    """A moment named by the calendar: `date` plus `offset` days, at `at` in the fan's zone."""

    date: DateRef
    at: time = time(10, 0)
    offset: timedelta = timedelta(0)


@dataclass(frozen=True)
class WaitFor:
    """Until an event of type `event` arrives, or `timeout` passes, or `until` comes (at least
    one of the two). With `correlate`, only an event whose data field of that name equals the
    current ForEach item's counts."""

    id: str
    event: str
    timeout: timedelta | None = None
    correlate: str | None = None
    until: Deadline | None = None

    def __post_init__(self) -> None:
        if self.timeout is None and self.until is None:
            raise ValueError(f"WaitFor {self.id!r} needs a timeout or an until")


@dataclass(frozen=True)
class Case:
    when: Predicate
    steps: tuple["Step", ...]


@dataclass(frozen=True)
class Branch:
    """Run the steps of the first case whose predicate holds, else `otherwise`.

    When a predicate reads traits, they are refreshed first, so the decision sees consents
    given during a long wait.
    """

    id: str
    cases: tuple[Case, ...]
    otherwise: tuple["Step", ...] = ()


@dataclass(frozen=True)
class Arm:
    name: str
    weight: int
    steps: tuple["Step", ...]


@dataclass(frozen=True)
class Split:
    """A/B/n test: each fan always lands in the same arm (a hash of fan and step)."""

    id: str
    arms: tuple[Arm, ...]

    def arm_for(self, fan_id: str) -> int:
        """Stable per fan and step: the same fan lands in the same arm in every run."""
        digest = hashlib.sha256(f"{fan_id}:{self.id}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % sum(arm.weight for arm in self.arms)
        for index, arm in enumerate(self.arms):
            if point < arm.weight:
                return index
            point -= arm.weight
        return len(self.arms) - 1


@dataclass(frozen=True)
class Every:
    """Run `steps` now and then every `interval`, until `until`. Rounds keep the fan's local
    time of day across daylight-saving changes, as the other waits do."""

    id: str
    interval: timedelta
    until: DateRef
    steps: tuple["Step", ...]


@dataclass(frozen=True)
class ForEach:
    """Run `steps` once per item, all items at once: items are added by `added_by` events and
    removed (their pending steps cancelled) by `removed_by` events; `key` names the data field
    that identifies an item, so two events with the same key make one item (same-day sessions
    merge when the key is the day). Ends when `until` has passed and every item is done.
    Top level of a journey only.

    With `same_day` (a date-time data field), items falling on the same day in the edition's
    time zone merge into one: the steps run once for the day, and the item's `key` field
    lists every item of the day (space separated), so a message can name them all.
    """

    id: str
    added_by: str
    removed_by: str
    key: str
    until: DateRef
    steps: tuple["Step", ...]
    same_day: str | None = None


@dataclass(frozen=True)
class Record:
    """Record the fan's standing in a draw: "entered" when they apply, "confirmed" when they
    accept the place the draw offered. The draw workflow reads these."""

    id: str
    draw: str
    status: Literal["entered", "confirmed"]


@dataclass(frozen=True)
class Start:
    """Enroll the fan in another journey (its newest version), unless already enrolled."""

    id: str
    journey: str


Step = Send | Wait | WaitUntil | WaitFor | Branch | Split | Every | ForEach | Start | Record


def children(step: Step) -> list[tuple["Step", ...]]:
    if isinstance(step, Branch):
        return [case.steps for case in step.cases] + [step.otherwise]
    if isinstance(step, Split):
        return [arm.steps for arm in step.arms]
    if isinstance(step, Every | ForEach):
        return [step.steps]
    return []


def walk(steps: Sequence[Step]) -> list[Step]:
    """Every step of a tree, depth first, nested ones included."""
    found: list[Step] = []
    for step in steps:
        found.append(step)
        for nested in children(step):
            found.extend(walk(nested))
    return found
