"""club-onboarding: welcome a new fan-club member, then ask for their favourite sports."""

from datetime import timedelta

from journeys.journey import Journey
from journeys.steps import AllOf, Branch, Case, HasConsent, Reachable, Send, Wait

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
