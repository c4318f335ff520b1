"""Every text a request may write fits the column it goes to, on both databases.

SQLite would store an over-long value anyway and PostgreSQL would refuse it with a 500: the
schema's limit, which the OpenAPI document shows, must be the column's.
"""

from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.orm import InstrumentedAttribute

from api.routes.events import EventRequest
from api.schemas import ConsentRequest, FanRequest
from api.schemas_events import IncidentRequest, SessionRequest, TicketRequest
from journeys.incidents import TEXT_LIMITS
from relay.db.models import CompetitionSession, Consent, Fan, Incident, Ticket, WebhookEvent


def _max_length(model: type[BaseModel], field: str) -> int:
    schema: dict[str, Any] = model.model_json_schema()["properties"][field]
    options = schema.get("anyOf", [schema])
    lengths = {option["maxLength"] for option in options if "maxLength" in option}
    assert len(lengths) == 1, f"{model.__name__}.{field} declares no single maxLength"
    return int(lengths.pop())


def _column_length(column: InstrumentedAttribute[Any]) -> int:
    length: int = column.property.columns[0].type.length
    return length


@pytest.mark.parametrize(
    ("model", "field", "column"),
    [
        (FanRequest, "external_id", Fan.external_id),
        (FanRequest, "email", Fan.email),
        (FanRequest, "phone", Fan.phone),
        (FanRequest, "first_name", Fan.first_name),
        (FanRequest, "time_zone", Fan.time_zone),
        (ConsentRequest, "source", Consent.source),
        (SessionRequest, "id", CompetitionSession.id),
        (SessionRequest, "sport", CompetitionSession.sport),
        (SessionRequest, "event_name", CompetitionSession.event_name),
        (SessionRequest, "venue", CompetitionSession.venue),
        (SessionRequest, "venue_time_zone", CompetitionSession.venue_time_zone),
        (TicketRequest, "id", Ticket.id),
        (TicketRequest, "session_id", Ticket.session_id),
        (TicketRequest, "gate", Ticket.gate),
        (TicketRequest, "fan_id", Ticket.fan_id),
        (IncidentRequest, "message", Incident.message),
        (IncidentRequest, "supersedes", Incident.supersedes),
    ],
)
def test_a_declared_limit_is_the_column_length(
    model: type[BaseModel], field: str, column: InstrumentedAttribute[Any]
) -> None:
    assert _max_length(model, field) <= _column_length(column)


def test_an_incident_gate_fits_a_ticket_gate() -> None:
    assert TEXT_LIMITS["gate"] <= _column_length(Ticket.gate)


def test_an_event_id_fits_the_record_of_events_seen() -> None:
    assert len("event:") + _max_length(EventRequest, "event_id") <= _column_length(WebhookEvent.id)
