"""A journey: a named, versioned, frozen tree of steps."""

from collections import Counter
from dataclasses import dataclass

from journeys.events import EVENT_TYPES
from journeys.steps import ForEach, Step, WaitFor, walk


@dataclass(frozen=True)
class Journey:
    name: str
    version: int
    steps: tuple[Step, ...]
    description: str = ""
    # Events that end the journey at once, whatever it is waiting for (a goal reached).
    exit_on: tuple[str, ...] = ()
    # An event that enrolls the fan when it arrives (signal-with-start).
    entry_event: str | None = None

    def __post_init__(self) -> None:
        steps = walk(self.steps)
        repeated = [i for i, n in Counter(s.id for s in steps).items() if n > 1]
        if repeated:
            raise ValueError(f"{self.name} v{self.version}: step ids used twice: {repeated}")
        nested = [s.id for s in steps if isinstance(s, ForEach) and s not in self.steps]
        if nested:
            raise ValueError(f"{self.name} v{self.version}: ForEach only at top level: {nested}")
        unknown = sorted(set(self.listens_to()) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"{self.name} v{self.version}: unknown event types {unknown}")

    def listens_to(self) -> list[str]:
        """Every event type this journey reacts to while it runs."""
        types = [*self.exit_on, *([self.entry_event] if self.entry_event else [])]
        for step in walk(self.steps):
            if isinstance(step, WaitFor):
                types.append(step.event)
            elif isinstance(step, ForEach):
                types += [step.added_by, step.removed_by]
        return types
