"""The message ledger: decide and reserve under a per-fan lock, settle after the provider."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.contracts import SendInput
from journeys.pressure import SERVICE_DEDUP_WINDOW
from relay.db.consents import suppress_address
from relay.db.dialect import insert_ignoring_conflict
from relay.db.models import Category, Fan, Message, MessageStatus, utcnow

SETTLED = {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SKIPPED, MessageStatus.BOUNCED}
# What caps count: messages let through, whatever became of them afterwards.
COUNTED = (MessageStatus.RESERVED, MessageStatus.SENT, MessageStatus.BOUNCED)
LONGEST_CAP_WINDOW = timedelta(days=31)


async def lock_fan(session: AsyncSession, fan_id: str) -> None:
    """Serialise decisions for one fan until commit, so two sends cannot both pass a cap.

    A no-op UPDATE as the transaction's first statement: PostgreSQL locks the row, SQLite
    takes its write lock (waiting through busy_timeout). One portable statement, no dialect
    branch.
    """
    # Setting updated_at to itself keeps its onupdate from firing: nothing really changes.
    await session.execute(update(Fan).where(Fan.id == fan_id).values(updated_at=Fan.updated_at))


async def find_or_create(
    session: AsyncSession, send: SendInput, key: str, channel: str, locale: str
) -> Message:
    await insert_ignoring_conflict(
        session,
        Message.__table__,  # type: ignore[arg-type]
        {
            "key": key,
            "fan_id": send.fan_id,
            "journey": send.journey,
            "journey_version": send.journey_version,
            "step": send.step,
            "message": send.message,
            "item": send.item,
            "channel": channel,
            "category": send.category,
            "status": MessageStatus.PENDING.value,
            "locale": locale,
            "deferral_count": 0,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        ["key"],
    )
    row = await session.scalar(select(Message).where(Message.key == key))
    assert row is not None
    return row


async def counted_for_caps(
    session: AsyncSession, fan_id: str, now: datetime, except_key: str
) -> list[tuple[datetime, str]]:
    rows = await session.execute(
        select(Message.decided_at, Message.channel).where(
            Message.fan_id == fan_id,
            Message.category == Category.MARKETING,
            Message.status.in_(COUNTED),
            Message.decided_at > now - LONGEST_CAP_WINDOW,
            Message.key != except_key,
        )
    )
    return [(at, channel) for at, channel in rows if at is not None]


async def is_duplicate_service(session: AsyncSession, row: Message, now: datetime) -> bool:
    twin = await session.scalar(
        select(Message.id).where(
            Message.fan_id == row.fan_id,
            Message.message == row.message,
            Message.item.is_not_distinct_from(row.item),
            Message.channel == row.channel,
            Message.status.in_(COUNTED),
            Message.decided_at > now - SERVICE_DEDUP_WINDOW,
            Message.key != row.key,
        )
    )
    return twin is not None


async def settle(
    session: AsyncSession,
    row: Message,
    status: MessageStatus,
    *,
    reason: str | None = None,
    provider_message_id: str | None = None,
) -> None:
    row.status = status.value
    row.reason = reason
    row.deferred_until = None
    if provider_message_id is not None:
        row.provider_message_id = provider_message_id
    if status == MessageStatus.SENT:
        row.sent_at = utcnow()
    await session.commit()


async def fail_unsettled(session: AsyncSession, keys: list[str], reason: str) -> None:
    """One conditional UPDATE, so a webhook settling a row at the same moment wins or loses
    as a whole: a row proved sent is never marked failed."""
    await session.execute(
        update(Message)
        .where(Message.key.in_(keys), Message.status.not_in(SETTLED))
        .values(status=MessageStatus.FAILED.value, reason=reason, deferred_until=None)
    )
    await session.commit()


async def defer(session: AsyncSession, row: Message, reason: str, until: datetime) -> None:
    row.status = MessageStatus.DEFERRED.value
    row.deferred_until = until
    row.deferral_count += 1
    row.deferral_reason = reason
    await session.commit()


async def suppress(session: AsyncSession, channel: str, address: str, reason: str) -> None:
    await suppress_address(session, channel, address, reason)
    await session.commit()


class _Attempted(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def attempted_at(self) -> datetime | None: ...


def raise_if_in_doubt(rows: Sequence[_Attempted], evidence_window: timedelta) -> None:
    """Refuse to resend while an earlier attempt may still prove to have been accepted.

    Neither provider takes an idempotency key. A row reserved with an attempt time is one
    whose provider call started but never settled (the worker died mid-call, the connection
    dropped). Webhooks (SendGrid 'processed', Twilio status callbacks) settle such rows as
    sent; until the evidence window has passed without one, Temporal retries later. After it,
    the message is taken as never accepted and sent again.
    """
    now = utcnow()
    waits = [
        row.attempted_at + evidence_window - now
        for row in rows
        if row.status == MessageStatus.RESERVED
        and row.attempted_at is not None
        and row.attempted_at + evidence_window > now
    ]
    if waits:
        raise ApplicationError(
            f"{len(waits)} message(s) may already be with the provider; waiting for evidence",
            type="DeliveryInDoubt",
            next_retry_delay=max(max(waits), timedelta(seconds=1)),
        )


async def not_attempted(session: AsyncSession, ids: list[int]) -> None:
    """The provider answered with an error: these were certainly not accepted."""
    await session.execute(update(Message).where(Message.id.in_(ids)).values(attempted_at=None))
    await session.commit()
