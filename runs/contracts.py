"""What crosses the boundary of a fan's journey run: the workflow's name and id, its input
(with the progress continue-as-new carries) and the events it is signalled.

Below workflows/ so that the API, activities (the draw, `Start`) and the simulator can start
and signal runs by name without importing the interpreter, which imports the activities.
"""

from dataclasses import dataclass, field

# JourneyWorkflow's registered name, and its signal for events.
JOURNEY_WORKFLOW = "JourneyWorkflow"
EVENT_SIGNAL = "event"


@dataclass
class ReceivedEvent:
    event_id: str
    type: str
    data: dict[str, str] = field(default_factory=dict)
    occurred_at: str | None = None  # ISO 8601


@dataclass
class Progress:
    """Where a journey is: carried from run to run by continue-as-new."""

    completed: list[str] = field(default_factory=list)
    # ISO 8601 strings: inside the workflow sandbox, datetime values do not decode.
    deadlines: dict[str, str] = field(default_factory=dict)
    choices: dict[str, int] = field(default_factory=dict)
    iterations: dict[str, int] = field(default_factory=dict)
    items: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    events: list[ReceivedEvent] = field(default_factory=list)
    consumed: dict[str, int] = field(default_factory=dict)
    event_results: dict[str, dict[str, str]] = field(default_factory=dict)
    seen_event_ids: list[str] = field(default_factory=list)
    messages_sent: int = 0
    runs: int = 1
    # Per Every loop, when its latest round was due (ISO 8601): the next is due an interval
    # later on the fan's wall clock.
    rounds: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JourneyInput:
    fan_id: str
    journey: str
    version: int
    progress: Progress | None = None


def journey_workflow_id(journey: str, fan_id: str) -> str:
    """One run per fan and journey: the id is what makes enrollment idempotent."""
    return f"journey:{journey}:{fan_id}"
