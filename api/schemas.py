"""Request and response bodies of the public API."""

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from api.validation import (
    allowed,
    countries,
    e164_phone,
    iana_time_zone,
    iso_country,
    mailbox_length,
    supported_locale,
    time_zones,
)
from journeys.locales import SUPPORTED_LOCALES
from relay.db.models import ConsentPurpose

# The validators say precisely what is wrong; the schema shows clients what is allowed.
# (A `pattern` constraint after a validator would be dropped from the document: pydantic cannot
# apply it there, so it is declared for the document only, and the validator enforces more.)
Phone = Annotated[
    str,
    AfterValidator(e164_phone),
    Field(max_length=20, json_schema_extra={"pattern": r"^\+[1-9][0-9]{6,14}$"}),
]
Email = Annotated[EmailStr, AfterValidator(mailbox_length), Field(max_length=320)]
LocaleCode = Annotated[
    str, AfterValidator(supported_locale), Field(json_schema_extra=allowed(SUPPORTED_LOCALES))
]
TimeZone = Annotated[
    str,
    AfterValidator(iana_time_zone),
    Field(max_length=64, json_schema_extra=allowed(time_zones())),
]
Country = Annotated[str, AfterValidator(iso_country), Field(json_schema_extra=allowed(countries()))]
# Relay's own fan ids: "fan_" and 32 hex digits (the column holds 40).
FanId = Annotated[str, Field(min_length=1, max_length=40)]
ExternalId = Annotated[str, Field(min_length=1, max_length=200)]
# Ids in URLs: what any id column holds, and no control characters (PostgreSQL refuses NUL).
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]


def _text_time(value: object) -> object:
    # Pydantic reads a number as Unix time; the document promises ISO 8601 text, and a
    # client sending a number more likely made a mistake than meant seconds since 1970.
    if isinstance(value, int | float):
        raise ValueError(
            "give the time as ISO 8601 text with an offset, like 2028-07-30T19:00:00+02:00"
        )
    return value


# A moment, written as text with its offset.
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_text_time)]
# Interests travel into every journey's traits, in workflow history: a few dozen at most.
MAX_INTERESTS = 50


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


class StrictModel(BaseModel):
    # A misspelt field is a client mistake worth telling, not something to drop silently.
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: object) -> object:
        # PostgreSQL text cannot hold NUL: refused here, it would be a 500 at the database.
        if isinstance(data, dict) and _has_nul(data):
            raise PydanticCustomError("nul_character", "text cannot contain NUL characters")
        return data


class ConsentRequest(StrictModel):
    granted: bool
    source: str = Field(default="api", min_length=1, max_length=100)


class FanUpdateRequest(StrictModel):
    """Only the fields sent change."""

    email: Email | None = None
    phone: Phone | None = None
    first_name: str | None = Field(default=None, max_length=100)
    locale: LocaleCode | None = None
    country: Country | None = None
    time_zone: TimeZone | None = None
    interests: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=MAX_INTERESTS
    )
    consents: dict[ConsentPurpose, ConsentRequest] | None = None

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> "FanUpdateRequest":
        # They may be left out of an update, but a fan always has a locale and a time zone.
        for field in ("locale", "time_zone", "interests"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep the current one")
        return self


class FanRequest(FanUpdateRequest):
    """Upsert by `external_id`; on update, only the fields sent change."""

    external_id: ExternalId


class ConsentResponse(BaseModel):
    granted: bool
    source: str
    recorded_at: datetime


class FanResponse(BaseModel):
    id: str
    external_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    locale: str
    country: str | None
    zone: str
    time_zone: str
    interests: list[str]
    consents: dict[str, ConsentResponse]
    created_at: datetime
    updated_at: datetime


class EnrollmentRequest(StrictModel):
    fan_id: FanId


class EnrollmentResponse(BaseModel):
    fan_id: str
    journey: str
    version: int
    workflow_id: str
    run_id: str | None
    # "started" for a new run; "already_enrolled" when the fan already has one.
    outcome: str
    status: str


class MessageResponse(BaseModel):
    id: int
    journey: str
    journey_version: int
    step: str
    message: str
    channel: str
    category: str
    status: str
    reason: str | None
    locale: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    deferred_until: datetime | None
    deferral_count: int
    deferral_reason: str | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    bounced_at: datetime | None
    unsubscribed_at: datetime | None


class StepStatsResponse(BaseModel):
    journey: str
    step: str
    message: str
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    unsubscribed: int
    # By reason: deferred counts messages ever held back (most go out later).
    deferred: dict[str, int]
    skipped: dict[str, int]
    failed: dict[str, int]
    # Over delivered messages (over sent ones while no delivery is reported yet).
    open_rate: float | None
    click_rate: float | None
