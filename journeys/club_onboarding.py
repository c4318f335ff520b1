"""club-onboarding: welcome a new fan-club member, learn their sports, keep them close to the
Games with news about those sports, and ask for their consent to the legacy programme."""

from datetime import time, timedelta

from journeys.journey import Journey
from journeys.steps import (
    AllOf,
    Branch,
    CalendarDate,
    Case,
    Every,
    HasConsent,
    HasInterests,
    Not,
    Reachable,
    Send,
    TimedOut,
    Wait,
    WaitFor,
    WaitUntil,
)

V1 = Journey(
    name="club-onboarding",
    version=1,
    description="Welcome email; two days later a nudge to pick favourite sports.",
    steps=(
        # Confirming a membership the fan just asked for is a service message.
        Send(id="welcome", message="club_welcome", channel="email", category="service"),
        Wait(id="settle-in", duration=timedelta(days=2)),
        Branch(
            id="nudge-channel",
            cases=(
                Case(
                    when=AllOf((HasConsent("sms_marketing"), Reachable("sms"))),
                    steps=(Send(id="nudge-sms", message="club_sports_nudge", channel="sms"),),
                ),
            ),
            otherwise=(Send(id="nudge-email", message="club_sports_nudge", channel="email"),),
        ),
    ),
)

V2 = Journey(
    name="club-onboarding",
    version=2,
    description=(
        "Welcome; if the fan's sports are unknown, wait two days for them and nudge once; "
        "two weeks later, news about their sports every four weeks until the Games close; "
        "after the Games, the legacy-programme consent request."
    ),
    steps=(
        Send(id="welcome", message="club_welcome", channel="email", category="service"),
        Branch(
            id="sports-known",
            cases=(
                Case(
                    when=Not(HasInterests()),
                    steps=(
                        WaitFor(
                            id="sports-picked",
                            event="profile.interests_updated",
                            timeout=timedelta(days=2),
                        ),
                        Branch(
                            id="nudge-channel",
                            cases=(
                                Case(
                                    when=AllOf(
                                        (
                                            TimedOut("sports-picked"),
                                            HasConsent("sms_marketing"),
                                            Reachable("sms"),
                                        )
                                    ),
                                    steps=(
                                        Send(
                                            id="nudge-sms",
                                            message="club_sports_nudge",
                                            channel="sms",
                                        ),
                                    ),
                                ),
                                Case(
                                    when=TimedOut("sports-picked"),
                                    steps=(
                                        Send(
                                            id="nudge-email",
                                            message="club_sports_nudge",
                                            channel="email",
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        Wait(id="before-news", duration=timedelta(weeks=2)),
        Every(
            id="sport-news",
            interval=timedelta(weeks=4),
            until=CalendarDate("games_close"),
            steps=(
                # News is nice to have: over a cap it is dropped, never piled up.
                Send(
                    id="news",
                    message="club_sport_news",
                    channel="email",
                    on_pressure="skip",
                ),
            ),
        ),
        WaitUntil(
            id="after-games",
            date=CalendarDate("games_close"),
            at=time(10, 0),
            offset=timedelta(days=14),
        ),
        Send(
            id="legacy-consent",
            message="club_legacy_consent",
            channel="email",
            category="service",
        ),
    ),
    exit_on=("fan.unsubscribed_all",),
)
