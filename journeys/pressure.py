"""Communication pressure, in one place: caps per fan and quiet hours, by category and channel.

Product owners tune the numbers here. The functions are pure (no clock, no database) so the
arithmetic is tested on its own; `activities/send.py` feeds them the fan's ledger.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

SUNDAY = 6


@dataclass(frozen=True)
class Cap:
    """At most `limit` counted messages per window, rolling or in local calendar days."""

    name: str
    limit: int
    window: timedelta | None = None  # rolling: the last 7 days, say
    calendar_days: int | None = None  # local calendar days, today included (1 = today)
    channel: str | None = None  # None: every channel together


@dataclass(frozen=True)
class QuietHours:
    """No sending from `start` to `end` (across midnight when start > end), nor on closed days."""

    start: time
    end: time
    closed_weekdays: frozenset[int] = frozenset()


# Marketing pressure across every journey, counted from the ledger.
MARKETING_CAPS: tuple[Cap, ...] = (
    Cap("3-a-week", limit=3, window=timedelta(days=7)),
    Cap("1-a-day", limit=1, calendar_days=1),
    Cap("2-sms-a-month", limit=2, window=timedelta(days=30), channel="sms"),
)

# France's marketing SMS practice (no evenings, nights, Sundays) as the default everywhere.
_MARKETING_QUIET = QuietHours(time(20, 0), time(8, 0), frozenset({SUNDAY}))
_SERVICE_QUIET = QuietHours(time(21, 0), time(8, 0))
QUIET_HOURS: dict[tuple[str, str], QuietHours] = {
    ("marketing", "sms"): _MARKETING_QUIET,
    ("marketing", "push"): _MARKETING_QUIET,
    ("service", "sms"): _SERVICE_QUIET,
    ("service", "push"): _SERVICE_QUIET,
}

# A service message identical to one sent this recently is a duplicate, not news.
SERVICE_DEDUP_WINDOW = timedelta(hours=24)
# A deferred message older than this is stale: skipped rather than sent late.
DEFAULT_MAX_DEFERRAL = timedelta(days=7)


def _is_quiet(local: datetime, quiet: QuietHours) -> bool:
    moment = local.time()
    if quiet.start > quiet.end:
        at_night = moment >= quiet.start or moment < quiet.end
    else:
        at_night = quiet.start <= moment < quiet.end
    return at_night or local.weekday() in quiet.closed_weekdays


def quiet_until(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """None when `now` is outside quiet hours in `zone`, else the first moment it is not."""
    local = now.astimezone(zone)
    if not _is_quiet(local, quiet):
        return None
    for days_ahead in range(9):
        # combine() in the zone keeps 08:00 at 08:00 local across daylight-saving changes.
        candidate = datetime.combine(local.date() + timedelta(days_ahead), quiet.end, zone)
        if candidate > local and not _is_quiet(candidate, quiet):
            return candidate.astimezone(UTC)
    raise ValueError(f"quiet hours {quiet} never end")


def _window_start(cap: Cap, now: datetime, zone: ZoneInfo) -> datetime:
    if cap.window is not None:
        return now - cap.window
    assert cap.calendar_days is not None, f"cap {cap.name} needs a window or calendar_days"
    first_day = now.astimezone(zone).date() - timedelta(days=cap.calendar_days - 1)
    return datetime.combine(first_day, time(0), zone).astimezone(UTC)


def _frees_up_at(cap: Cap, counted: Sequence[datetime], zone: ZoneInfo) -> datetime:
    """When enough of `counted` (sorted, all inside the window) have left it to allow one more."""
    must_leave = counted[len(counted) - cap.limit]
    if cap.window is not None:
        return must_leave + cap.window
    assert cap.calendar_days is not None
    leaving_day = must_leave.astimezone(zone).date() + timedelta(days=cap.calendar_days)
    return datetime.combine(leaving_day, time(0), zone).astimezone(UTC)


def counted_in_window(
    cap: Cap, now: datetime, zone: ZoneInfo, sent: Sequence[tuple[datetime, str]]
) -> list[datetime]:
    start = _window_start(cap, now, zone)
    return sorted(
        at
        for at, channel in sent
        if cap.channel in (None, channel) and (at > start if cap.window else at >= start)
    )


def caps_deferral(
    now: datetime,
    zone: ZoneInfo,
    channel: str,
    sent: Sequence[tuple[datetime, str]],
    caps: Sequence[Cap] = MARKETING_CAPS,
) -> tuple[str, datetime] | None:
    """None when one more message on `channel` fits every cap, else (cap names, retry time).

    `sent` holds (when, channel) of the fan's counted messages. The retry time is the first
    moment every cap broken now is whole again.
    """
    broken = []
    for cap in caps:
        if cap.channel not in (None, channel):
            continue
        counted = counted_in_window(cap, now, zone, sent)
        if len(counted) >= cap.limit:
            broken.append((cap.name, _frees_up_at(cap, counted, zone)))
    if not broken:
        return None
    return ",".join(name for name, _ in broken), max(at for _, at in broken)
