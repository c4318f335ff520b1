"""Events API clients may send, with the data fields each must carry.

Journeys wait for them (`WaitFor`), exit on them (`exit_on`), start on them (`entry_event`),
and add or remove `ForEach` items with them.
"""

from datetime import datetime

EVENT_TYPES: dict[str, frozenset[str]] = {
    "profile.interests_updated": frozenset(),
    "lottery.registered": frozenset(),
    "lottery.drawn": frozenset({"result"}),  # result: selected | not_selected
    "ticket.purchased": frozenset({"session_id", "starts_at"}),
    "ticket.transferred_out": frozenset({"session_id"}),
    "volunteer.applied": frozenset(),
    "volunteer.interviewed": frozenset(),
    "volunteer.decided": frozenset({"decision"}),  # accepted | declined
    "torch.applied": frozenset(),
    # Sent by the torch-relay draw itself (result: selected | waitlisted), never by clients.
    "torch.drawn": frozenset({"result"}),
    "torch.confirmed": frozenset(),
    "fan.unsubscribed_all": frozenset(),
}

# Only the engine raises these: a client could otherwise declare itself a draw winner.
INTERNAL_EVENT_TYPES = frozenset({"torch.drawn"})

# Data fields that must be ISO 8601 date-times with an offset (journeys compute dates on them).
DATETIME_FIELDS = frozenset({"starts_at"})


def data_problems(event_type: str, data: dict[str, str]) -> list[str]:
    """What is wrong with an event's data, in words a client can act on; [] when fine."""
    problems = [f"missing field {name!r}" for name in sorted(EVENT_TYPES[event_type] - set(data))]
    for name in sorted(DATETIME_FIELDS & set(data)):
        try:
            moment = datetime.fromisoformat(data[name])
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            problems.append(f"{name!r} must be an ISO 8601 date-time with an offset")
    return problems
