"""Apply provider feedback to the ledger, suppressions and consents.

Webhooks arrive at least once and out of order: each event is applied once (by provider
event id) and timestamps are set once, so a late 'delivered' never hides an 'open'.
"""

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.db.consents import record_consent, suppress_address
from relay.db.dialect import insert_ignoring_conflict, insert_many_ignoring_conflict
from relay.db.models import (
    Channel,
    ConsentPurpose,
    Fan,
    Message,
    MessageStatus,
    Suppression,
    WebhookEvent,
    utcnow,
)

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_STOP_REASON = "replied STOP"
# SendGrid drops for these reasons are about the address itself.
_SUPPRESSING_DROPS = ("Bounced Address", "Invalid", "Spam Reporting Address", "Unsubscribed")
# Twilio delivery errors that mean the number cannot take SMS at all.
_DEAD_NUMBER_ERRORS = frozenset({"30005", "30006"})


async def first_time(session: AsyncSession, event_id: str) -> bool:
    """Record the event id; false when it was applied before (a redelivery)."""
    return await insert_ignoring_conflict(
        session,
        WebhookEvent.__table__,  # type: ignore[arg-type]
        {"id": event_id[:200], "received_at": utcnow()},
        ["id"],
    )


async def seen(session: AsyncSession, event_id: str) -> bool:
    return await session.get(WebhookEvent, event_id[:200]) is not None


async def seen_among(session: AsyncSession, event_ids: list[str]) -> set[str]:
    """Those of the event ids applied before, in one query."""
    keys = {event_id[:200]: event_id for event_id in event_ids}
    found = await session.scalars(select(WebhookEvent.id).where(WebhookEvent.id.in_(keys)))
    return {keys[key] for key in found}


async def first_times(session: AsyncSession, event_ids: list[str]) -> None:
    """Record many event ids at once (those recorded before stay as they were)."""
    rows = [{"id": event_id[:200], "received_at": utcnow()} for event_id in event_ids]
    await insert_many_ignoring_conflict(
        session,
        WebhookEvent.__table__,  # type: ignore[arg-type]
        rows,
        ["id"],
    )


def _accepted(message: Message | None, when: datetime, provider_id: str | None = None) -> None:
    """Any event about a message proves the provider took it: settle an in-doubt row."""
    if message is not None and message.status == MessageStatus.RESERVED:
        message.status = MessageStatus.SENT
        message.sent_at = message.sent_at or when
        message.provider_message_id = message.provider_message_id or provider_id


def _set_once(message: Message | None, field: str, when: datetime) -> None:
    if message is not None and getattr(message, field) is None:
        setattr(message, field, when)


# Ledger ids are 64-bit integers at most; anything else names no message of ours.
_LEDGER_ID = re.compile(r"[0-9]{1,18}")
# Event times SendGrid could plausibly send (unix seconds, 2001 to 2286).
_EVENT_TIMES = (1e9, 1e10)


async def _message(session: AsyncSession, message_id: object) -> Message | None:
    text = str(message_id or "")
    return await session.get(Message, int(text)) if _LEDGER_ID.fullmatch(text) else None


def _event_time(event: dict[str, Any]) -> datetime | None:
    """The event's time; now when it has none; None when it is not a plausible time."""
    stamp = event.get("timestamp")
    if stamp is None:
        return utcnow()
    try:
        seconds = float(stamp)
    except (TypeError, ValueError):
        return None
    low, high = _EVENT_TIMES
    return datetime.fromtimestamp(seconds, UTC) if low <= seconds < high else None


def _text(value: object, limit: int) -> str | None:
    """An event's text as a column holds it; None when no column can (too long, a NUL)."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit and "\x00" not in text else None


async def _fans_at(session: AsyncSession, channel: str, address: str) -> list[Fan]:
    column = Fan.email if channel == Channel.EMAIL else Fan.phone
    return list(await session.scalars(select(Fan).where(column == address)))


async def _withdraw_email_marketing(
    session: AsyncSession, address: str, source: str, granted: bool = False
) -> None:
    for fan in await _fans_at(session, Channel.EMAIL, address):
        record_consent(fan, ConsentPurpose.EMAIL_MARKETING, granted, source)


async def apply_sendgrid_event(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Apply one event; false when it was seen before or is malformed (the batch goes on)."""
    event_id, when = _text(event.get("sg_event_id"), 150), _event_time(event)
    address = _text(event.get("email"), 320)
    provider_id = _text(str(event.get("sg_message_id") or "").split(".")[0], 100)
    if not event_id or when is None or address is None or provider_id is None:
        return False
    if not await first_time(session, f"sendgrid:{event_id}"):
        return False
    message = await _message(session, event.get("relay_message_id"))
    kind = event.get("event")
    if kind != "dropped":
        _accepted(message, when, provider_id or None)
    if kind == "delivered":
        _set_once(message, "delivered_at", when)
    elif kind in ("open", "click"):
        _set_once(message, "opened_at", when)  # a click is an open the pixel missed
        if kind == "click":
            _set_once(message, "clicked_at", when)
    elif kind == "bounce":
        _set_once(message, "bounced_at", when)
        if event.get("type", "bounce") == "bounce":  # "blocked" is the receiver's mood today
            if message is not None:
                message.status, message.reason = MessageStatus.BOUNCED, "hard bounce"
            await suppress_address(session, Channel.EMAIL, address, "hard bounce")
    elif kind == "dropped":
        reason = str(event.get("reason") or "dropped").replace("\x00", "")
        if message is not None:
            message.status, message.reason = MessageStatus.FAILED, f"dropped: {reason}"[:200]
        if reason.startswith(_SUPPRESSING_DROPS):
            await suppress_address(session, Channel.EMAIL, address, f"dropped: {reason}"[:200])
    elif kind == "spamreport":
        _set_once(message, "unsubscribed_at", when)
        await suppress_address(session, Channel.EMAIL, address, "spam report")
        await _withdraw_email_marketing(session, address, "sendgrid:spamreport")
    elif kind in ("unsubscribe", "group_unsubscribe"):
        _set_once(message, "unsubscribed_at", when)
        await _withdraw_email_marketing(session, address, f"sendgrid:{kind}")
    elif kind == "group_resubscribe":
        await _withdraw_email_marketing(session, address, "sendgrid:group_resubscribe", True)
    return True


async def apply_twilio_status(
    session: AsyncSession, message_id: str | None, form: dict[str, str]
) -> None:
    sid, status = _text(form.get("MessageSid"), 100), _text(form.get("MessageStatus"), 20)
    error, to = _text(form.get("ErrorCode"), 20), _text(form.get("To"), 20)
    if sid is None or status is None or error is None or to is None:
        return  # not what Twilio sends: nothing to learn from it
    if not await first_time(session, f"twilio:{sid}:{status}"):
        return
    message = await _message(session, message_id)
    _accepted(message, utcnow(), sid or None)
    if status == "delivered":
        _set_once(message, "delivered_at", utcnow())
    elif status in ("undelivered", "failed"):
        _set_once(message, "bounced_at", utcnow())
        if message is not None:
            message.status, message.reason = MessageStatus.BOUNCED, f"twilio error {error}"
        if error in _DEAD_NUMBER_ERRORS and to:
            await suppress_address(session, Channel.SMS, to, f"twilio error {error}")


async def apply_sms_keyword(session: AsyncSession, phone: str, keyword: str) -> list[Fan]:
    """STOP opts out (Twilio blocks the number for us anyway), START opts back in."""
    if _text(phone, 20) is None:
        return []  # no phone number is that long: not one of our fans
    fans = await _fans_at(session, Channel.SMS, phone)
    if keyword in STOP_WORDS:
        await suppress_address(session, Channel.SMS, phone, _STOP_REASON)
        for fan in fans:
            record_consent(fan, ConsentPurpose.SMS_MARKETING, False, "sms:STOP")
    elif keyword in START_WORDS:
        await session.execute(
            delete(Suppression).where(
                Suppression.channel == Channel.SMS,
                Suppression.address == phone,
                Suppression.reason == _STOP_REASON,
            )
        )
        for fan in fans:
            # Only an opt-out made by STOP is undone by START.
            if any(
                c.purpose == ConsentPurpose.SMS_MARKETING and c.source == "sms:STOP"
                for c in fan.consents
            ):
                record_consent(fan, ConsentPurpose.SMS_MARKETING, True, "sms:START")
    return fans
