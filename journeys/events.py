"""Events API clients may send, and the declared schema of each one's data.

Journeys wait for them (`WaitFor`), exit on them (`exit_on`), start on them (`entry_event`),
and add or remove `ForEach` items with them. Event data is copied into workflow history,
which must hold no personal data: a field nobody declared here is refused, never stored.
"""

import re
from datetime import datetime

# A field's kind: one of these names, or a tuple of the values it may take.
SESSION_ID = "session_id"  # a competition session id, as ticketing names it
DATETIME = "datetime"  # ISO 8601 with an offset: journeys compute dates on it
FieldKind = str | tuple[str, ...]

EVENT_TYPES: dict[str, dict[str, FieldKind]] = {
    "profile.interests_updated": {},
    "lottery.registered": {},
    "lottery.drawn": {"result": ("selected", "not_selected")},
    "ticket.purchased": {"session_id": SESSION_ID, "starts_at": DATETIME},
    "ticket.transferred_out": {"session_id": SESSION_ID},
    "volunteer.applied": {},
    "volunteer.interviewed": {},
    "volunteer.decided": {"decision": ("accepted", "declined")},
    "torch.applied": {},
    # Sent by the torch-relay draw itself, never by clients.
    "torch.drawn": {"result": ("selected", "waitlisted")},
    "torch.confirmed": {},
    "fan.unsubscribed_all": {},
}

# Only the engine raises these: a client could otherwise declare itself a draw winner.
INTERNAL_EVENT_TYPES = frozenset({"torch.drawn"})

# Session ids are joined with spaces when same-day sessions merge: the same pattern as the API's.
_SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_DATETIME_LENGTH = 40


def _field_problem(name: str, kind: FieldKind, value: str) -> str | None:
    if isinstance(kind, tuple):
        return None if value in kind else f"{name!r} must be one of {', '.join(kind)}"
    if kind == SESSION_ID:
        if _SESSION_ID.fullmatch(value) is None:
            return f"{name!r} must be a session id (1-64 letters, digits, '.', '_', ':', '-')"
        return None
    try:
        moment = datetime.fromisoformat(value) if len(value) <= _DATETIME_LENGTH else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return f"{name!r} must be an ISO 8601 date-time with an offset"
    return None


def data_problems(event_type: str, data: dict[str, str]) -> list[str]:
    """What is wrong with an event's data, in words a client can act on; [] when fine."""
    declared = EVENT_TYPES[event_type]
    problems = [f"missing field {name!r}" for name in sorted(set(declared) - set(data))]
    problems += [
        f"undeclared field {name!r} (declared: {', '.join(sorted(declared)) or 'none'})"
        for name in sorted(set(data) - set(declared))
    ]
    for name in sorted(set(declared) & set(data)):
        problem = _field_problem(name, declared[name], data[name])
        if problem is not None:
            problems.append(problem)
    return problems
