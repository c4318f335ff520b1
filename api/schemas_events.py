"""Request and response bodies for sessions, tickets and incidents."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas import ExternalId, FanId, IsoDateTime, StrictModel, TimeZone
from api.validation import allowed
from journeys.incidents import INCIDENT_MESSAGES

# Ticketing's ids: they go into URLs and space-separated lists, so no spaces or slashes.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Gate = Annotated[str, Field(min_length=1, max_length=32)]


class SessionRequest(StrictModel):
    id: Identifier
    sport: str = Field(min_length=1, max_length=100)
    event_name: str = Field(min_length=1, max_length=200)
    venue: str = Field(min_length=1, max_length=200)
    venue_time_zone: TimeZone
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    gates: list[Gate] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "SessionRequest":
        if self.ends_at <= self.starts_at:
            raise ValueError(f"session {self.id}: ends_at must be after starts_at")
        return self


class FanReference(StrictModel):
    """A fan by Relay id or by the client's external id: exactly one of them."""

    fan_id: FanId | None = None
    fan_external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "FanReference":
        if (self.fan_id is None) == (self.fan_external_id is None):
            raise ValueError("give exactly one of fan_id and fan_external_id")
        return self


class TicketRequest(FanReference):
    id: Identifier
    session_id: Identifier
    gate: Gate | None = None
    seats: int = Field(default=1, ge=1, le=20)


class TransferRequest(StrictModel):
    to_fan_id: FanId | None = None
    to_fan_external_id: ExternalId | None = None

    def reference(self) -> FanReference:
        return FanReference(fan_id=self.to_fan_id, fan_external_id=self.to_fan_external_id)


class TicketResponse(BaseModel):
    id: str
    fan_id: str
    session_id: str
    gate: str | None
    seats: int


class LoadedResponse(BaseModel):
    upserted: int


class IncidentScope(StrictModel):
    """One or more sessions; or a venue and a time window; or explicit fans."""

    sessions: list[Identifier] | None = Field(default=None, min_length=1, max_length=500)
    venue: str | None = Field(default=None, min_length=1, max_length=200)
    from_: IsoDateTime | None = Field(default=None, alias="from")
    until: IsoDateTime | None = None
    fans: list[FanId] | None = Field(default=None, min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _one_kind(self) -> "IncidentScope":
        windowed = self.venue is not None
        if windowed and (self.from_ is None or self.until is None):
            raise ValueError("a venue scope needs both from and until")
        if not (self.sessions or windowed or self.fans):
            raise ValueError("give sessions, a venue with from and until, or fans")
        return self

    def as_data(self) -> dict[str, Any]:
        data = self.model_dump(exclude_none=True, by_alias=True, mode="json")
        return data


class IncidentRequest(StrictModel):
    message: str = Field(min_length=1, max_length=100, json_schema_extra=allowed(INCIDENT_MESSAGES))
    parameters: dict[Annotated[str, Field(max_length=50)], Any] = Field(
        default_factory=dict, max_length=20
    )
    scope: IncidentScope
    channels: list[Literal["email", "sms"]] = Field(min_length=1, max_length=2)
    valid_for_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    supersedes: str | None = Field(default=None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _distinct_channels(self) -> "IncidentRequest":
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("each channel once, in order of preference")
        return self


class IncidentResponse(BaseModel):
    id: str
    message: str
    status: str
    channels: list[str]
    valid_until: datetime
    supersedes: str | None
    superseded_by: str | None
    audience: int | None
    sent: int
    failed: int
    skipped: dict[str, int]
    pending: int
    created_at: datetime
