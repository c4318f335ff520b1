"""Events API clients may send, with the data fields each must carry.

Journeys wait for them (`WaitFor`), exit on them (`exit_on`), start on them (`entry_event`),
and add or remove `ForEach` items with them.
"""

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
    "torch.confirmed": frozenset(),
    "fan.unsubscribed_all": frozenset(),
}


def missing_fields(event_type: str, data: dict[str, str]) -> list[str]:
    return sorted(EVENT_TYPES[event_type] - set(data))
