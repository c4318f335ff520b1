"""Cap and quiet-hours arithmetic, by example and by property (hypothesis)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.pressure import (
    MARKETING_CAPS,
    QUIET_HOURS,
    Cap,
    QuietHours,
    caps_deferral,
    counted_in_window,
    quiet_until,
)

TOKYO = ZoneInfo("Asia/Tokyo")
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2027, 1, 1, tzinfo=UTC)
ZONES = st.sampled_from([TOKYO, PARIS, ZoneInfo("America/New_York"), ZoneInfo("UTC")])
MOMENTS = st.integers(0, 400 * 24 * 60).map(lambda minutes: START + timedelta(minutes=minutes))
CHANNELS = st.sampled_from(["email", "sms"])
HISTORY = st.lists(st.tuples(MOMENTS, CHANNELS), max_size=12)


def test_a_marketing_sms_at_23_in_tokyo_waits_for_8_the_next_morning_in_tokyo() -> None:
    wednesday_23h_tokyo = datetime(2027, 3, 10, 23, 0, tzinfo=TOKYO)
    until = quiet_until(wednesday_23h_tokyo, TOKYO, QUIET_HOURS[("marketing", "sms")])
    assert until == datetime(2027, 3, 11, 8, 0, tzinfo=TOKYO)


def test_a_marketing_sms_on_saturday_night_waits_for_monday_morning() -> None:
    saturday_night = datetime(2027, 3, 13, 22, 30, tzinfo=PARIS)
    until = quiet_until(saturday_night, PARIS, QUIET_HOURS[("marketing", "sms")])
    assert until == datetime(2027, 3, 15, 8, 0, tzinfo=PARIS)


def test_quiet_hours_end_at_8_local_across_a_daylight_saving_change() -> None:
    # Paris springs forward in the night of 27-28 March 2027.
    night = datetime(2027, 3, 27, 23, 0, tzinfo=PARIS)
    until = quiet_until(night, PARIS, QuietHours(time(20), time(8)))
    assert until is not None and until.astimezone(PARIS).time() == time(8)
    assert until - night.astimezone(UTC) == timedelta(hours=8)


def test_the_afternoon_is_not_quiet() -> None:
    assert (
        quiet_until(
            datetime(2027, 3, 10, 15, tzinfo=TOKYO), TOKYO, QUIET_HOURS[("marketing", "sms")]
        )
        is None
    )


def test_a_second_marketing_message_today_waits_for_local_midnight() -> None:
    morning = datetime(2027, 3, 10, 9, tzinfo=TOKYO)
    reason, retry = caps_deferral(
        morning + timedelta(hours=2), TOKYO, "email", [(morning, "email")]
    ) or ("", None)
    assert reason == "1-a-day"
    assert retry == datetime(2027, 3, 11, 0, 0, tzinfo=TOKYO)


def test_a_third_marketing_sms_in_a_month_waits_for_the_first_to_age_out() -> None:
    first, second = START, START + timedelta(days=10)
    now = START + timedelta(days=20)
    reason, retry = caps_deferral(now, PARIS, "sms", [(first, "sms"), (second, "sms")]) or (
        "",
        None,
    )
    assert reason == "2-sms-a-month" and retry == first + timedelta(days=30)
    assert caps_deferral(now, PARIS, "email", [(first, "sms"), (second, "sms")]) is None


@settings(max_examples=300, deadline=None)
@given(now=MOMENTS, zone=ZONES, channel=CHANNELS, sent=HISTORY)
def test_an_allowed_message_keeps_every_cap(
    now: datetime, zone: ZoneInfo, channel: str, sent: list[tuple[datetime, str]]
) -> None:
    sent = [(at, ch) for at, ch in sent if at <= now]
    if caps_deferral(now, zone, channel, sent) is None:
        after = [*sent, (now, channel)]
        for cap in MARKETING_CAPS:
            if cap.channel in (None, channel):
                assert len(counted_in_window(cap, now, zone, after)) <= cap.limit


@settings(max_examples=300, deadline=None)
@given(now=MOMENTS, zone=ZONES, channel=CHANNELS, sent=HISTORY)
def test_a_deferral_is_as_short_as_it_can_be_and_long_enough(
    now: datetime, zone: ZoneInfo, channel: str, sent: list[tuple[datetime, str]]
) -> None:
    sent = [(at, ch) for at, ch in sent if at <= now]
    deferral = caps_deferral(now, zone, channel, sent)
    if deferral is None:
        return
    _, retry = deferral
    assert retry > now
    assert caps_deferral(retry, zone, channel, sent) is None
    assert caps_deferral(retry - timedelta(seconds=1), zone, channel, sent) is not None


@settings(max_examples=300, deadline=None)
@given(
    now=MOMENTS, zone=ZONES, start=st.integers(0, 23), end=st.integers(0, 23), sunday=st.booleans()
)
def test_quiet_hours_end_at_the_first_allowed_moment(
    now: datetime, zone: ZoneInfo, start: int, end: int, sunday: bool
) -> None:
    if start == end:
        return
    quiet = QuietHours(time(start), time(end), frozenset({6}) if sunday else frozenset())
    until = quiet_until(now, zone, quiet)
    if until is None:
        return
    assert until > now
    assert quiet_until(until, zone, quiet) is None
    assert quiet_until(until - timedelta(seconds=1), zone, quiet) is not None


def test_caps_can_be_configured_per_channel() -> None:
    push_only = (Cap("1-push-a-week", limit=1, window=timedelta(days=7), channel="push"),)
    sent = [(START, "push")]
    assert caps_deferral(START + timedelta(days=1), PARIS, "email", sent, push_only) is None
    assert caps_deferral(START + timedelta(days=1), PARIS, "push", sent, push_only) is not None
