"""The five released journeys over their whole lives, in the time-skipping server.

Each test moves the edition's calendar so that its first date lies a month ahead of the test
server's clock (which only moves forward, shared by the session), then plays the events a fan
would cause at their dates, exactly as the API delivers them, and reads the ledger.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apps.simulate import Scripted, TimelineEntry, paris, play, timeline
from journeys.calendar import CALENDAR, EDITION_TIME_ZONE
from tests.conftest import Sandbox, unique_phone
from tests.workflows.conftest import JourneyEnvironment

EDITION_DATES = dict(CALENDAR)
PARIS = ZoneInfo(EDITION_TIME_ZONE)


@contextmanager
def calendar_from(first_day: date) -> Iterator[dict[str, date]]:
    """The edition's calendar moved as a whole so that its first date is `first_day`."""
    shift = first_day - min(EDITION_DATES.values())
    CALENDAR.update({name: day + shift for name, day in EDITION_DATES.items()})
    try:
        yield dict(CALENDAR)
    finally:
        CALENDAR.update(EDITION_DATES)


@contextmanager
def edition_ahead(now: datetime) -> Iterator[dict[str, date]]:
    with calendar_from((now + timedelta(days=30)).date()) as calendar:
        yield calendar


def messages(entries: list[TimelineEntry], journey: str | None = None) -> list[str]:
    return [e.message for e in entries if e.status == "sent" and journey in (None, e.journey)]


@dataclass(frozen=True)
class Life:
    """A fan's life through the journeys: when it began, the calendar it ran on, the ledger."""

    began: datetime
    calendar: dict[str, date]
    entries: list[TimelineEntry]


async def live(
    environment: JourneyEnvironment,
    sandbox: Sandbox,
    fan_id: str,
    script: Callable[[datetime, dict[str, date]], list[Scripted]],
) -> Life:
    """Play `script(now, calendar)` for the fan with the edition a month ahead."""
    now = await environment.env.get_current_time()
    with edition_ahead(now) as calendar:
        await play(environment.env, environment.env.client, {fan_id: script(now, calendar)})
        entries = await timeline(environment.sessions, sandbox.store, fan_id)
    return Life(now, calendar, entries)


async def test_club_onboarding_nudges_once_sends_news_until_the_games_then_asks_for_legacy(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(locale="fr", consents=("email_marketing",))
    life = await live(
        journey_environment,
        sandbox,
        fan.id,
        lambda now, _: [Scripted(now, "enroll", {"journey": "club-onboarding"})],
    )
    now, calendar, entries = life.began, life.calendar, life.entries
    sent = messages(entries)
    assert sent[:2] == ["club_welcome", "club_sports_nudge"]
    assert sent[-1] == "club_legacy_consent"
    news = [e.at for e in entries if e.message == "club_sport_news" and e.status == "sent"]
    games_close = paris(calendar["games_close"], 0)
    assert all(at < games_close for at in news)
    # Every four weeks from two weeks after joining until the Games close.
    expected = (games_close - (now + timedelta(days=16))).days // 28 + 1
    assert len(news) in (expected - 1, expected), (len(news), expected)
    legacy = next(e.at for e in entries if e.message == "club_legacy_consent")
    assert legacy.astimezone(PARIS).date() == calendar["games_close"] + timedelta(days=14)
    [welcome, *_] = sandbox.received_by(fan.email or "")
    assert welcome.subject == "Bienvenue au Club des fans"


async def test_club_onboarding_does_not_nudge_a_fan_who_picks_sports(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(consents=("email_marketing",))
    entries = (
        await live(
            journey_environment,
            sandbox,
            fan.id,
            lambda now, _: [
                Scripted(now, "enroll", {"journey": "club-onboarding"}),
                Scripted(now + timedelta(hours=5), "profile.interests_updated"),
            ],
        )
    ).entries
    assert "club_sports_nudge" not in messages(entries)
    assert messages(entries)[0] == "club_welcome" and "club_sport_news" in messages(entries)


def lottery(calendar: dict[str, date], result: str) -> list[Scripted]:
    """Registration when the lottery opens, then its result on the draw day."""
    return [
        Scripted(paris(calendar["lottery_opens"]), "lottery.registered"),
        Scripted(paris(calendar["lottery_draw"]), "lottery.drawn", {"result": result}),
    ]


def _purchase(at: datetime, session_id: str, starts_at: datetime) -> Scripted:
    return Scripted(
        at, "ticket.purchased", {"session_id": session_id, "starts_at": starts_at.isoformat()}
    )


async def test_a_drawn_buyer_is_confirmed_reminded_of_beneficiaries_and_handed_to_spectator(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(
        locale="de", country="DE", consents=("email_marketing",)
    )
    entries = (
        await live(
            journey_environment,
            sandbox,
            fan.id,
            lambda _, calendar: [
                *lottery(calendar, "selected"),
                _purchase(
                    paris(calendar["lottery_draw"] + timedelta(days=2)),
                    f"S-{uuid.uuid4().hex[:6]}",
                    paris(calendar["games_open"] + timedelta(days=3), 20),
                ),
            ],
        )
    ).entries
    assert messages(entries, "ticket-buyer") == [
        "lottery_registered",
        "lottery_selected",
        "purchase_confirmed",
        "beneficiaries_reminder",
    ]
    # The purchase also started the spectator journey, which prepared the session day.
    assert messages(entries, "spectator-previsit") == [
        "previsit_practical",
        "previsit_transport",
        "previsit_reminder",
        "previsit_survey",
    ]


async def test_a_buyer_not_drawn_hears_of_the_next_sales_phase_the_evening_before(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(
        time_zone="America/New_York", country="US", consents=("email_marketing",)
    )
    life = await live(
        journey_environment, sandbox, fan.id, lambda _, calendar: lottery(calendar, "not_selected")
    )
    entries, calendar = life.entries, life.calendar
    assert messages(entries) == ["lottery_registered", "lottery_not_selected", "flash_sales_open"]
    flash = entries[-1].at.astimezone(ZoneInfo("America/New_York"))
    assert flash.date() == calendar["flash_sales_open"] - timedelta(days=1)
    assert flash.strftime("%H:%M") == "18:00"  # in the fan's own zone


async def test_a_drawn_buyer_who_never_buys_is_reminded_then_offered_the_next_phase(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(consents=("email_marketing",))
    life = await live(
        journey_environment, sandbox, fan.id, lambda _, calendar: lottery(calendar, "selected")
    )
    entries, calendar = life.entries, life.calendar
    assert messages(entries) == [
        "lottery_registered",
        "lottery_selected",
        "purchase_reminder",
        "flash_sales_open",
    ]
    reminder = next(e for e in entries if e.message == "purchase_reminder")
    closes = calendar["purchase_window_closes"]
    assert reminder.at.astimezone(PARIS).date() == closes - timedelta(days=2)


async def test_spectator_merges_same_day_sessions_and_forgets_a_transferred_one(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    fan = await journey_environment.add_fan(
        locale="ja",
        phone=phone,
        country="JP",
        time_zone="Asia/Tokyo",
        consents=("email_marketing",),
    )
    tag = uuid.uuid4().hex[:6]

    def purchases_and_a_transfer(_: datetime, calendar: dict[str, date]) -> list[Scripted]:
        day = calendar["games_open"] + timedelta(days=2)
        bought = paris(calendar["flash_sales_open"])
        return [
            _purchase(bought, f"ATH-{tag}", paris(day, 21)),
            _purchase(bought + timedelta(hours=1), f"SWM-{tag}", paris(day, 10)),
            _purchase(bought + timedelta(hours=2), f"JUD-{tag}", paris(day + timedelta(3), 16)),
            Scripted(
                bought + timedelta(days=5), "ticket.transferred_out", {"session_id": f"JUD-{tag}"}
            ),
        ]

    life = await live(journey_environment, sandbox, fan.id, purchases_and_a_transfer)
    entries, day = life.entries, life.calendar["games_open"] + timedelta(days=2)
    assert messages(entries) == [
        "previsit_practical",
        "previsit_transport",
        "previsit_reminder",
        "previsit_survey",
    ]
    practical = entries[0].at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert practical.date() == day - timedelta(days=30)
    assert practical.strftime("%H:%M") == "10:00"
    [reminder] = sandbox.received_by(phone)
    # One reminder for the day, naming both sessions (sessions unknown to ticketing show by id).
    assert f"SWM-{tag}" in (reminder.text or "") and f"ATH-{tag}" in (reminder.text or "")
    # On the eve, in Paris: 10:00 there, 17:00 at home in Tokyo.
    eve = next(e for e in entries if e.message == "previsit_reminder").at
    assert eve.astimezone(PARIS).replace(microsecond=0) == paris(day - timedelta(days=1), 10)
    visa = sandbox.received_by(fan.email or "")[0]
    assert "france-visas.gouv.fr" in (visa.text or "")


async def test_an_accepted_volunteer_is_trained_equipped_scheduled_and_thanked(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(locale="es", country="ES")
    entries = (
        await live(
            journey_environment,
            sandbox,
            fan.id,
            lambda now, _: [
                Scripted(now, "volunteer.applied"),
                Scripted(now + timedelta(days=20), "volunteer.interviewed"),
                Scripted(now + timedelta(days=40), "volunteer.decided", {"decision": "accepted"}),
            ],
        )
    ).entries
    assert messages(entries) == [
        "volunteer_received",
        "volunteer_interviewed",
        "volunteer_accepted",
        "volunteer_training",
        "volunteer_training",
        "volunteer_uniform",
        "volunteer_shifts",
        "volunteer_thanks",
    ]


async def test_a_declined_volunteer_hears_so_and_nothing_more(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan()
    entries = (
        await live(
            journey_environment,
            sandbox,
            fan.id,
            lambda now, _: [
                Scripted(now, "volunteer.applied"),
                Scripted(now + timedelta(days=10), "volunteer.decided", {"decision": "declined"}),
            ],
        )
    ).entries
    # Never interviewed: the interview wait times out, the decision still arrives.
    assert messages(entries) == ["volunteer_received", "volunteer_declined"]


async def test_a_new_york_spectator_hears_the_eve_reminder_at_ten_in_paris_not_after_home_quiet(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    # 10:00 in Paris is 04:00 in New York: inside home quiet hours, not the venue's.
    phone = unique_phone()
    fan = await journey_environment.add_fan(
        phone=phone, country="US", time_zone="America/New_York", consents=("email_marketing",)
    )
    tag = uuid.uuid4().hex[:6]

    def purchase(_: datetime, calendar: dict[str, date]) -> list[Scripted]:
        day = calendar["games_open"] + timedelta(days=4)
        return [_purchase(paris(calendar["flash_sales_open"]), f"ATH-{tag}", paris(day, 20))]

    life = await live(journey_environment, sandbox, fan.id, purchase)
    day = life.calendar["games_open"] + timedelta(days=4)
    [reminder] = [e for e in life.entries if e.message == "previsit_reminder"]
    assert (reminder.status, reminder.channel) == ("sent", "sms")
    assert reminder.at.astimezone(PARIS).replace(microsecond=0) == paris(
        day - timedelta(days=1), 10
    )
    assert len(sandbox.received_by(phone)) == 1
