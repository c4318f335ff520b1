"""The lock file of released journey versions: a released definition never changes.

    python -m journeys.lock     # add newly released versions; refuse changed ones

Runs keep the version they started on for years, so editing a released version would change
the journey under fans already on it. Ship a new version instead; the test suite compares
every released definition with its hash here.
"""

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from journeys.calendar import CALENDAR, EDITION_TIME_ZONE
from journeys.journey import Journey
from journeys.registry import RELEASED
from journeys.steps import NEUTRAL, CalendarDate

LOCK_PATH = Path(__file__).resolve().parent / "released.lock.json"


def definition_hash(journey: Journey) -> str:
    """Everything a waiting fan's replay depends on: the definition, and the calendar dates
    (and the edition's time zone) it waits for, so moving one of its dates is a new version.

    A field added to the vocabulary after release is left out while it holds its neutral
    value (see journeys.steps.added_later), so it does not touch versions that do not use it.
    """
    document = {
        "definition": _canonical(journey),
        "calendar": {name: CALENDAR[name].isoformat() for name in sorted(_dates(journey))},
        "edition_time_zone": EDITION_TIME_ZONE,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kept = {
            f.name: _canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (NEUTRAL in f.metadata and getattr(value, f.name) == f.metadata[NEUTRAL])
        }
        return {"@": type(value).__name__, **kept}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(json.dumps(_canonical(v), sort_keys=True) for v in value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    # timedelta, time, date: complete, stable reprs.
    return repr(value)


def _dates(value: Any) -> set[str]:
    """The names of the calendar dates anywhere in a definition."""
    if isinstance(value, CalendarDate):
        return {value.name}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return set().union(*(_dates(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple | list | frozenset | set):
        return set().union(*(_dates(v) for v in value))
    return set()


def lock_key(journey: Journey) -> str:
    return f"{journey.name}@{journey.version}"


def read_lock() -> dict[str, str]:
    return dict(json.loads(LOCK_PATH.read_text())) if LOCK_PATH.exists() else {}


def changed_versions(lock: dict[str, str]) -> list[str]:
    """Released versions whose definition no longer matches the lock file."""
    return sorted(
        lock_key(j)
        for j in RELEASED
        if lock_key(j) in lock and lock[lock_key(j)] != definition_hash(j)
    )


def main() -> int:
    lock = read_lock()
    changed = changed_versions(lock)
    if changed:
        print(f"released definitions changed: {', '.join(changed)}; ship new versions instead")
        return 1
    added = {lock_key(j): definition_hash(j) for j in RELEASED if lock_key(j) not in lock}
    LOCK_PATH.write_text(json.dumps({**lock, **added}, indent=2, sort_keys=True) + "\n")
    print(f"locked: {', '.join(added) or 'nothing new'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
