"""The lock file of released journey versions: a released definition never changes.

    python -m journeys.lock     # add newly released versions; refuse changed ones

Runs keep the version they started on for years, so editing a released version would change
the journey under fans already on it. Ship a new version instead; the test suite compares
every released definition with its hash here.
"""

import hashlib
import json
import sys
from pathlib import Path

from journeys.journey import Journey
from journeys.registry import RELEASED

LOCK_PATH = Path(__file__).resolve().parent / "released.lock.json"


def definition_hash(journey: Journey) -> str:
    # Frozen dataclasses, tuples, timedeltas and times have stable, complete reprs.
    return hashlib.sha256(repr(journey).encode()).hexdigest()


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
