"""Typed SQLAlchemy models: fans, their consents, the message ledger and suppressions."""

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations name the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_fan_id() -> str:
    # Pseudonymous and random: it travels through Temporal ids and search attributes,
    # which are never encrypted, so it must say nothing about the person.
    return f"fan_{uuid.uuid4().hex}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends: SQLite would otherwise hand back naive times."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class ConsentPurpose(enum.StrEnum):
    EMAIL_MARKETING = "email_marketing"
    SMS_MARKETING = "sms_marketing"
    PUSH = "push"
    LEGACY_SHARING = "legacy_sharing"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Category(enum.StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"
    URGENT = "urgent"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # being decided, inside one transaction: never seen committed
    RESERVED = (
        "reserved"  # ledger row written, provider not yet called (or the call's fate unknown)
    )
    SENT = "sent"  # the provider accepted it
    FAILED = "failed"  # the provider refused it for good
    SKIPPED = "skipped"  # not sent by a rule: no consent, suppressed, no address, stale
    DEFERRED = "deferred"  # held back by a cap or quiet hours until `deferred_until`
    BOUNCED = "bounced"  # accepted, then bounced or blocked by the recipient's server


class Fan(Base):
    __tablename__ = "fan"
    # Incident audiences are paged in this order (see activities/audience.py).
    __table_args__ = (Index("ix_fan_locale_time_zone_id", "locale", "time_zone", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_fan_id)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    # Bounces, unsubscribes and STOP replies name an address, not a fan (api/feedback.py).
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(10))
    country: Mapped[str | None] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    consents: Mapped[list["Consent"]] = relationship(
        back_populates="fan", cascade="all, delete-orphan", lazy="selectin"
    )

    def has_consent(self, purpose: ConsentPurpose) -> bool:
        return any(c.purpose == purpose and c.granted for c in self.consents)


class Consent(Base):
    """The fan's latest word on one purpose, with where and when it was given."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("fan_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fan_id: Mapped[str] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    fan: Mapped[Fan] = relationship(back_populates="consents")


class Message(Base):
    """The message ledger: one row per intended send, written before the provider is called."""

    __tablename__ = "message"
    # /v1/stats?journey= and an incident's progress (journey "incident", step its id) read
    # one journey's or one step's rows, never the whole ledger.
    __table_args__ = (Index("ix_message_journey_step_message", "journey", "step", "message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Deterministic: workflow id + step path + occurrence. Unique, so a retry finds its row.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    fan_id: Mapped[str] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    journey: Mapped[str] = mapped_column(String(64))
    journey_version: Mapped[int]
    step: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(String(100))
    # The journey item it is about (a session, a day of sessions): dedup tells items apart.
    item: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(10))
    provider_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The moment the rules let it go, on the workflow's clock: what caps count.
    decided_at: Mapped[datetime | None]
    # When the provider call started: a reserved row older than the evidence window with no
    # webhook saying it was accepted is sent again (see activities/ledger.py).
    attempted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    deferred_until: Mapped[datetime | None]
    deferral_count: Mapped[int] = mapped_column(default=0, server_default="0")
    deferral_reason: Mapped[str | None] = mapped_column(String(200))
    # Delivery feedback from provider webhooks.
    delivered_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Suppression(Base):
    """An address that must not be written to again (hard bounce, STOP, invalid number)."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    # Sends look addresses up without their channel (activities/fans.py, incidents), which
    # the (channel, address) constraint cannot serve.
    address: Mapped[str] = mapped_column(String(320), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """Provider events already applied: webhooks are delivered at least once."""

    __tablename__ = "webhook_event"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # provider:event id
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class CompetitionSession(Base):
    """One competition session (an event at a venue at a time), as ticketing names it."""

    __tablename__ = "competition_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sport: Mapped[str] = mapped_column(String(100))
    event_name: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str] = mapped_column(String(200), index=True)
    venue_time_zone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    gates: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (Index("ix_ticket_session_id_fan_id", "session_id", "fan_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fan_id: Mapped[str] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("competition_session.id"))
    gate: Mapped[str | None] = mapped_column(String(32))
    seats: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Incident(Base):
    """An activated incident message: what, to whom, until when, and how far it got."""

    __tablename__ = "incident"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    message: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    valid_until: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # active, completed, superseded, expired
    supersedes: Mapped[str | None] = mapped_column(String(40))
    superseded_by: Mapped[str | None] = mapped_column(String(40))
    audience: Mapped[int | None]
    # SHA-256 of the request an Idempotency-Key first came with: a reuse must match it.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DrawEntry(Base):
    """A fan's standing in a draw (the torch relay): entered by their journey, ranked by the
    draw workflow, offered a place or the waitlist, confirmed by their journey or lapsed."""

    __tablename__ = "draw_entry"
    __table_args__ = (Index("ix_draw_entry_draw_rank", "draw", "rank"),)

    draw: Mapped[str] = mapped_column(String(64), primary_key=True)
    fan_id: Mapped[str] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), primary_key=True)
    # entered, selected, waitlisted, confirmed, lapsed
    status: Mapped[str] = mapped_column(String(16))
    # Place in the draw's shuffled order (0 first); None until the draw has run.
    rank: Mapped[int | None]
    # Which offer round gave this fan a place (0: the draw itself; then replacements).
    offer_round: Mapped[int | None]
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
