"""What reaches a fan's journey run from outside: its id and the events it is signalled.

Apart from workflows.journey so that activities (the draw) can signal runs without importing
the interpreter, which imports them.
"""

from dataclasses import dataclass, field

# JourneyWorkflow's signal for events.
EVENT_SIGNAL = "event"


@dataclass
class ReceivedEvent:
    event_id: str
    type: str
    data: dict[str, str] = field(default_factory=dict)
    occurred_at: str | None = None  # ISO 8601


def journey_workflow_id(journey: str, fan_id: str) -> str:
    """One run per fan and journey: the id is what makes enrollment idempotent."""
    return f"journey:{journey}:{fan_id}"
