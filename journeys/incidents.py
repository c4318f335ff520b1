"""The incident message library: pre-written, translated messages and their parameters.

Activating one with a missing, unknown or malformed parameter is refused before anything is
sent. Every message also receives, per recipient group, the session (`event_name`, `venue`,
`starts_at`), the fan's `gate` and `time_zone`.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from journeys.locales import SUPPORTED_LOCALES


@dataclass(frozen=True)
class IncidentMessage:
    name: str
    # Parameter name -> kind: "text", "gate", "datetime" (ISO 8601 with offset), "int", or a
    # tuple of allowed values.
    required: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)
    # Parameters for previews and for the test that renders every message in every locale.
    example: dict[str, Any] = field(default_factory=dict)


INCIDENT_MESSAGES: dict[str, IncidentMessage] = {
    m.name: m
    for m in (
        IncidentMessage(
            "incident_session_rescheduled",
            required={"new_start": "datetime"},
            example={"new_start": "2028-07-31T10:00:00+02:00"},
        ),
        IncidentMessage("incident_session_cancelled"),
        IncidentMessage(
            "incident_gate_change",
            required={"to_gate": "gate"},
            optional={"from_gate": "gate"},
            example={"to_gate": "K"},
        ),
        IncidentMessage(
            "incident_transport_disruption",
            required={"line": "text", "extra_minutes": "int"},
            example={"line": "RER B", "extra_minutes": 30},
        ),
        IncidentMessage(
            "incident_weather_alert", required={"kind": ("heat", "storm")}, example={"kind": "heat"}
        ),
        # Free text cannot be translated by the library: operators give it per language.
        IncidentMessage(
            "incident_operator_notice",
            required={"text": "text"},
            optional={f"text_{locale}": "text" for locale in SUPPORTED_LOCALES},
            example={
                "text": "Doors open 30 minutes late.",
                "text_fr": "Ouverture retardée de 30 min.",
            },
        ),
    )
}


# Longest text of each kind: a gate is written to tickets (`Ticket.gate` holds 32).
TEXT_LIMITS = {"text": 500, "gate": 32}
# Whole numbers are minutes of delay: a week is already absurd.
MAX_INT = 7 * 24 * 60


class IncidentParameterError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _parse(name: str, kind: Any, value: Any) -> Any:
    if isinstance(kind, tuple):
        if value not in kind:
            raise ValueError(f"{name} must be one of {', '.join(kind)}, not {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise ValueError(f"{name} must be a whole number from 0 to {MAX_INT}, not {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if kind == "datetime":
        try:
            parsed = datetime.fromisoformat(value) if len(value) <= 40 else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{name} must be an ISO 8601 date-time, not {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{name} needs a UTC offset, like 2028-07-30T18:00:00+02:00")
        return value
    if len(value) > TEXT_LIMITS[kind]:
        raise ValueError(f"{name} is longer than {TEXT_LIMITS[kind]} characters")
    return value


def validate_parameters(message: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters, checked against the message's declaration; raises with every problem."""
    spec = INCIDENT_MESSAGES.get(message)
    if spec is None:
        known = ", ".join(sorted(INCIDENT_MESSAGES))
        raise IncidentParameterError([f"unknown incident message {message!r}; known: {known}"])
    problems = [f"missing parameter {name!r}" for name in spec.required if name not in parameters]
    declared = {**spec.required, **spec.optional}
    problems += [f"unknown parameter {name!r}" for name in parameters if name not in declared]
    checked = {}
    for name, value in parameters.items():
        if name in declared:
            try:
                checked[name] = _parse(name, declared[name], value)
            except ValueError as error:
                problems.append(str(error))
    if problems:
        raise IncidentParameterError(problems)
    return checked


def template_values(message: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Checked parameters as templates use them: date-times parsed for Babel formatting."""
    spec = INCIDENT_MESSAGES[message]
    declared = {**spec.required, **spec.optional}
    return {
        name: datetime.fromisoformat(value) if declared.get(name) == "datetime" else value
        for name, value in parameters.items()
    }


def example_context(message: str) -> dict[str, Any]:
    """A ticket holder's context and the message's example parameters, ready to render."""
    parameters = INCIDENT_MESSAGES[message].example
    return {
        "event_name": "Athletics - Men's 100m Final",
        "venue": "Stade de France",
        "starts_at": datetime(2028, 7, 30, 19, 0, tzinfo=UTC),
        "time_zone": "Europe/Paris",
        "gate": "G",
        "parameters": parameters,
        **template_values(message, parameters),
    }
