"""Inputs and outputs of activities: what workflows pass and get back.

They are stored in workflow history, so they carry ids and non-identifying traits only.
New fields get defaults so that old histories still decode.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class LoadTraitsInput:
    fan_id: str


@dataclass(frozen=True)
class SendInput:
    fan_id: str
    # Deterministic ledger key: workflow id + step id + occurrence. A retry finds its rows.
    key: str
    journey: str
    journey_version: int
    step: str
    message: str
    channel: str
    category: str
    # Tried in order when `channel` is not allowed or its address is refused.
    fallback_channels: list[str] = field(default_factory=list)
    # Never sent after this moment: an incident's validity window, a deferral's limit.
    send_before: datetime | None = None
    # What a cap or quiet hours do to this message: "defer" it, or "skip" it.
    on_pressure: str = "defer"
    # Message parameters (non-identifying: a session id, a gate), for the template.
    parameters: dict[str, str] = field(default_factory=dict)
    # The ForEach item this message is about (a session, a day of sessions): a service
    # message is a duplicate only of the same message about the same item.
    item: str | None = None
    # The time zone whose quiet hours apply (the venue's, for a fan at the Games); None: the
    # fan's home zone.
    quiet_hours_zone: str | None = None


@dataclass(frozen=True)
class GiveUpInput:
    """A send Temporal stopped retrying, and why (the ledger reason its rows fail with)."""

    send: SendInput
    reason: str


# The send's verdict when the fan no longer exists; their journeys end there.
FAN_ERASED = "fan_erased"
# The ApplicationError type activities raise for a fan that no longer exists.
FAN_NOT_FOUND = "FanNotFound"


@dataclass(frozen=True)
class SendOutput:
    ledger_id: int | None
    status: str
    reason: str | None = None
    channel: str | None = None
    # Set when deferred: call again at this moment.
    retry_at: datetime | None = None


@dataclass(frozen=True)
class PlanIncidentInput:
    incident_id: str
    # A cursor: (locale, time zone, fan id) of the last fan already planned; [] at the start.
    after: list[str]
    page_size: int
    pages: int


@dataclass(frozen=True)
class IncidentPlan:
    # Each page is the audience's fans in (previous boundary, boundary], in cursor order.
    boundaries: list[list[str]]
    exhausted: bool
    audience: int | None = None


@dataclass(frozen=True)
class IncidentPageInput:
    incident_id: str
    after: list[str]
    upto: list[str]


@dataclass
class IncidentTally:
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, other: "IncidentTally") -> None:
        self.sent += other.sent
        self.failed += other.failed
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count


@dataclass(frozen=True)
class FinishIncidentInput:
    incident_id: str
    status: str


@dataclass(frozen=True)
class RecordEntryInput:
    draw: str
    fan_id: str
    status: str  # entered | confirmed


@dataclass(frozen=True)
class DrawLotsInput:
    draw: str
    seed: str
    # Entries made after this moment (ISO 8601) are not in the draw.
    closes_at: str


@dataclass(frozen=True)
class DrawLots:
    """What an auditor needs to redo the draw: the entries' count and digest, and the seed."""

    applicants: int
    # SHA-256 of the sorted fan ids, one per line: the list the shuffle ran on.
    digest: str


@dataclass(frozen=True)
class OfferInput:
    draw: str
    journey: str
    # 0 for the draw's own winners; 1, 2... for replacements from the waitlist.
    round: int
    count: int


@dataclass(frozen=True)
class LapseInput:
    draw: str
    round: int


# By name: the workflow must not import the activity, which imports the workflow's client side.
ENROLL_ACTIVITY = "enroll_in_journey"


@dataclass(frozen=True)
class EnrollInput:
    fan_id: str
    journey: str
