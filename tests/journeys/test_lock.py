"""Released journey versions never change: the lock file holds their definitions' hashes."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, make_dataclass, replace
from datetime import timedelta

from journeys.calendar import CALENDAR
from journeys.journey import Journey
from journeys.lock import changed_versions, definition_hash, lock_key, read_lock
from journeys.registry import RELEASED
from journeys.steps import Send, Wait, added_later


def test_every_released_version_is_locked_with_its_current_definition() -> None:
    lock = read_lock()
    assert changed_versions(lock) == [], "a released journey changed: ship a new version"
    assert {lock_key(j) for j in RELEASED} <= set(lock), "run `python -m journeys.lock`"


def test_no_locked_version_was_withdrawn() -> None:
    # Fans may still be on it: a released version stays in the code for good.
    assert set(read_lock()) <= {lock_key(j) for j in RELEASED}


def test_changing_a_released_definition_is_detected() -> None:
    original = RELEASED[0]
    stretched = tuple(
        replace(step, duration=step.duration + timedelta(hours=1))
        if isinstance(step, Wait)
        else step
        for step in original.steps
    )
    edited = replace(original, steps=stretched)
    assert definition_hash(edited) != definition_hash(original)
    assert changed_versions({lock_key(original): definition_hash(edited)}) == [lock_key(original)]


def _released(name: str, version: int) -> Journey:
    return next(j for j in RELEASED if (j.name, j.version) == (name, version))


def test_moving_a_calendar_date_a_released_journey_waits_for_changes_its_hash() -> None:
    club = _released("club-onboarding", 2)  # news until the Games close, legacy after
    before = definition_hash(club)
    with moved("games_close", timedelta(days=1)):
        assert definition_hash(club) != before
        assert changed_versions(read_lock()) == [
            "club-onboarding@2",
            "spectator-previsit@1",
            "spectator-previsit@2",
            "volunteer@1",
        ]


def test_moving_a_date_a_journey_never_reads_leaves_its_hash_alone() -> None:
    club = _released("club-onboarding", 1)
    before = definition_hash(club)
    with moved("torch_relay_draw", timedelta(days=1)):
        assert definition_hash(club) == before


def test_a_new_step_field_left_at_its_neutral_default_leaves_released_hashes_alone() -> None:
    # The vocabulary grows a field after release; versions that do not use it keep their hash.
    grown = make_dataclass(
        "Send",
        [("sound", str, added_later("none"))],
        bases=(Send,),
        frozen=True,
    )
    club = _released("club-onboarding", 1)
    regrown = replace(
        club,
        steps=tuple(
            grown(**{f.name: getattr(s, f.name) for f in fields(s)}) if isinstance(s, Send) else s
            for s in club.steps
        ),
    )
    assert any(type(s) is grown for s in regrown.steps)
    assert definition_hash(regrown) == definition_hash(club)
    used = replace(regrown, steps=(grown(**{**_send_fields(regrown), "sound": "bell"}),))
    assert definition_hash(used) != definition_hash(replace(club, steps=(regrown.steps[0],)))


def _send_fields(journey: Journey) -> dict[str, object]:
    first = journey.steps[0]
    return {f.name: getattr(first, f.name) for f in fields(first)}


@contextmanager
def moved(name: str, by: timedelta) -> Iterator[None]:
    original = CALENDAR[name]
    CALENDAR[name] = original + by
    try:
        yield
    finally:
        CALENDAR[name] = original
