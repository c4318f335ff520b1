"""Journey definitions: well-formed, versioned, found by name."""

from datetime import timedelta

import pytest

from journeys.journey import Journey
from journeys.messages import MESSAGES
from journeys.registry import JOURNEYS, UnknownJourneyError, get_journey, latest_journey
from journeys.steps import Branch, Case, Facts, HasConsent, Send, Wait, walk
from journeys.traits import Traits


def test_a_step_id_used_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="step ids used twice: \\['hello'\\]"):
        Journey(
            name="twice",
            version=1,
            steps=(
                Send(id="hello", message="club_welcome", channel="email"),
                Branch(
                    id="b",
                    cases=(Case(HasConsent("x"), (Wait(id="hello", duration=timedelta(1)),)),),
                ),
            ),
        )


def test_new_enrollments_take_the_newest_version() -> None:
    newest = max(JOURNEYS["club-onboarding"])
    assert latest_journey("club-onboarding").version == newest
    assert get_journey("club-onboarding", 1).version == 1


def test_an_unknown_journey_or_version_is_a_clear_error() -> None:
    with pytest.raises(UnknownJourneyError, match="known journeys: club-onboarding"):
        latest_journey("club-onbording")
    with pytest.raises(UnknownJourneyError, match="version 99"):
        get_journey("club-onboarding", 99)


@pytest.mark.parametrize(
    "journey", [j for versions in JOURNEYS.values() for j in versions.values()], ids=str
)
def test_every_send_uses_a_library_message_on_a_channel_it_has(journey: Journey) -> None:
    for step in walk(journey.steps):
        if isinstance(step, Send):
            assert step.channel in MESSAGES[step.message].channels, step


def test_predicates_read_only_traits() -> None:
    traits = Traits(locale="fr", zone="france", time_zone="Europe/Paris", consents=["push"])
    facts = Facts(traits=traits)
    assert HasConsent("push")(facts) and not HasConsent("sms_marketing")(facts)
