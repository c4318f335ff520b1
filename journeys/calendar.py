"""The edition's calendar: the dates every journey waits for, edited in one place."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The edition's home time zone: calendar dates are days in this zone unless a step says
# otherwise (a fan-local time of day is applied in the fan's own zone).
EDITION_TIME_ZONE = "Europe/Paris"

CALENDAR: dict[str, date] = {
    "lottery_opens": date(2027, 2, 1),
    "lottery_draw": date(2027, 3, 15),
    "purchase_window_closes": date(2027, 4, 1),
    "flash_sales_open": date(2027, 5, 10),
    "torch_relay_draw": date(2027, 9, 1),
    "volunteer_training_starts": date(2028, 3, 6),
    "uniform_pickup_opens": date(2028, 6, 12),
    "torch_relay_starts": date(2028, 5, 8),
    "games_open": date(2028, 7, 26),
    "games_close": date(2028, 8, 11),
    "legacy_handover": date(2029, 1, 15),
}


class UnknownCalendarDateError(LookupError):
    pass


def calendar_date(name: str) -> date:
    try:
        return CALENDAR[name]
    except KeyError:
        known = ", ".join(sorted(CALENDAR))
        raise UnknownCalendarDateError(f"no calendar date {name!r}; known: {known}") from None


def at_local_time(day: date, at: time, zone: str) -> datetime:
    """`day` at `at` o'clock in `zone`, as an aware datetime (right across DST changes).

    Here rather than in the workflow: the workflow sandbox proxies zoneinfo, and this module
    is passed through to the real one.
    """
    return datetime.combine(day, at, ZoneInfo(zone))


def local_day(moment: datetime, zone: str) -> date:
    """The calendar day of `moment` in `zone` (a naive moment is taken as already local)."""
    return moment.astimezone(ZoneInfo(zone)).date() if moment.tzinfo else moment.date()


def later_local(moment: datetime, interval: timedelta, zone: str) -> datetime:
    """`interval` after `moment` on the wall clock of `zone`: a fan's 14:21 stays 14:21
    across daylight-saving changes, as `at_local_time` keeps it."""
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return (local + interval).replace(tzinfo=ZoneInfo(zone))
