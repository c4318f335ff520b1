"""Released journey versions never change: the lock file holds their definitions' hashes."""

from dataclasses import replace
from datetime import timedelta

from journeys.lock import changed_versions, definition_hash, lock_key, read_lock
from journeys.registry import RELEASED
from journeys.steps import Wait


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
