"""Every released journey version. New enrollments take the newest; runs keep theirs."""

from journeys import club_onboarding, spectator_previsit, ticket_buyer, torch_relay, volunteer
from journeys.draws import DrawSpec
from journeys.journey import Journey

RELEASED: tuple[Journey, ...] = (
    club_onboarding.V1,
    club_onboarding.V2,
    ticket_buyer.V1,
    spectator_previsit.V1,
    spectator_previsit.V2,
    volunteer.V1,
    torch_relay.V1,
)

# Draws journeys take part in; the worker makes sure each has its workflow.
DRAWS: tuple[DrawSpec, ...] = (torch_relay.DRAW,)

JOURNEYS: dict[str, dict[int, Journey]] = {}
for _journey in RELEASED:
    JOURNEYS.setdefault(_journey.name, {})[_journey.version] = _journey


def register(journey: Journey) -> None:
    """Add a journey at run time: for tests and product owners' tools (simulate), not for
    released journeys, which are listed above."""
    JOURNEYS.setdefault(journey.name, {})[journey.version] = journey


class UnknownJourneyError(LookupError):
    pass


def get_journey(name: str, version: int) -> Journey:
    try:
        return JOURNEYS[name][version]
    except KeyError:
        raise UnknownJourneyError(f"no journey {name!r} version {version}") from None


def latest_journey(name: str) -> Journey:
    versions = JOURNEYS.get(name)
    if not versions:
        known = ", ".join(sorted(JOURNEYS))
        raise UnknownJourneyError(f"no journey named {name!r}; known journeys: {known}")
    return versions[max(versions)]
