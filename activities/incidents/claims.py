"""An incident's side of the ledger: one row per fan, claimed just before its send and
settled as soon as the provider answers, so a crash never sends an answered message again."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import ApplicationError

from activities import audience, ledger
from activities.contracts import IncidentTally
from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from relay.db.consents import suppress_address
from relay.db.dialect import insert_many_ignoring_conflict
from relay.db.models import Incident, Message, MessageStatus, Suppression, utcnow
from relay.db.outcomes import count_outcomes

_SOON = timedelta(seconds=1)


def incident_key(incident_id: str, fan_id: str) -> str:
    return f"incident:{incident_id}:{fan_id}"


@dataclass(frozen=True)
class Row:
    """What a page needs of a ledger row (plain columns: no ORM object per fan)."""

    id: int
    fan_id: str
    status: str
    attempted_at: datetime | None


@dataclass(frozen=True)
class Delivery:
    """One fan's message: their ledger row, the channel and address chosen, their ticket."""

    row: Row
    channel: str
    address: str
    holder: audience.HolderContext


@dataclass(frozen=True)
class Outcome:
    """What became of one send: a provider id, an error, or a reason it was not sent."""

    delivery: Delivery
    provider_id: str | None = None
    error: ProviderRejectedError | ProviderUnavailableError | None = None
    skipped: str | None = None
    # When the provider call began: an unanswered call's evidence wait counts from here.
    started_at: datetime | None = None


async def suppressed(
    session: AsyncSession, holders: Sequence[audience.HolderContext]
) -> set[tuple[str, str]]:
    addresses = [a for h in holders for a in (h.email, h.phone) if a]
    found = await session.execute(
        select(Suppression.channel, Suppression.address).where(Suppression.address.in_(addresses))
    )
    return {(channel, address) for channel, address in found}


async def reserve_rows(
    session: AsyncSession,
    incident: Incident,
    holders: Sequence[audience.HolderContext],
    choices: dict[str, tuple[str, str] | None],
) -> dict[str, Row]:
    """One ledger row per fan, decided on insert; a retry finds the rows it made before."""
    now = utcnow()
    keys = {fan_id: incident_key(incident.id, fan_id) for fan_id in choices}
    locales = {h.fan_id: h.locale for h in holders}
    await insert_many_ignoring_conflict(
        session,
        Message.__table__,  # type: ignore[arg-type]
        [
            {
                "key": keys[fan_id],
                "fan_id": fan_id,
                "journey": "incident",
                "journey_version": 1,
                "step": incident.id,
                "message": incident.message,
                "channel": choice[0] if choice else incident.channels[0],
                "category": "urgent",
                "status": (MessageStatus.PENDING if choice else MessageStatus.SKIPPED).value,
                "reason": None if choice else "no_reachable_address",
                "locale": locales[fan_id],
                "decided_at": now,
                "deferral_count": 0,
                "created_at": now,
                "updated_at": now,
            }
            for fan_id, choice in choices.items()
        ],
        ["key"],
    )
    await session.commit()
    found = await session.execute(
        select(Message.id, Message.fan_id, Message.status, Message.attempted_at).where(
            Message.key.in_(keys.values())
        )
    )
    return {row.fan_id: Row(*row) for row in found}


def _retryable(in_doubt_for: timedelta) -> ColumnElement[bool]:
    """Rows nobody holds: never tried, certainly not taken, or in doubt past the window."""
    return or_(
        Message.status == MessageStatus.PENDING.value,
        and_(
            Message.status == MessageStatus.RESERVED.value,
            or_(
                Message.attempted_at.is_(None),
                Message.attempted_at <= utcnow() - in_doubt_for,
            ),
        ),
    )


async def claim(
    session: AsyncSession, deliveries: Sequence[Delivery], in_doubt_for: timedelta
) -> list[Delivery]:
    """Mark these rows as being sent now, and return the ones this attempt won.

    A page attempt that overran its heartbeat keeps running while Temporal starts the next
    one, so two attempts can hold the same page. The conditional UPDATE lets exactly one of
    them take each row: a row another attempt is sending right now (recently attempted) does
    not match, and the in-doubt check settles it on a later retry.
    """
    if not deliveries:
        return []
    claimed = await session.scalars(
        update(Message)
        .where(Message.id.in_([d.row.id for d in deliveries]), _retryable(in_doubt_for))
        .values(
            status=MessageStatus.RESERVED.value,
            attempted_at=utcnow(),
            channel=deliveries[0].channel,
        )
        .returning(Message.id)
    )
    won = set(claimed)
    await session.commit()
    return [d for d in deliveries if d.row.id in won]


_table = cast(Table, Message.__table__)
_SENT = (
    update(_table)
    .where(
        _table.c.id == bindparam("row_id"),
        _table.c.status == MessageStatus.RESERVED.value,
    )
    .values(
        status=MessageStatus.SENT.value,
        sent_at=bindparam("at"),
        updated_at=bindparam("at"),
        provider_message_id=bindparam("provider_id"),
    )
)


async def settle(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Write what became of these sends, in one transaction.

    A row an earlier webhook already settled (a status callback can beat the answer) keeps
    what it says.
    """
    now = utcnow()
    sent: dict[str, list[int]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.provider_id is not None:
            sent[outcome.provider_id].append(outcome.delivery.row.id)
    # An email request's rows share one provider id: one UPDATE. SMS each have their own.
    for provider_id, ids in sent.items():
        if len(ids) > 1:
            await session.execute(
                update(_table)
                .where(_table.c.id.in_(ids), _table.c.status == MessageStatus.RESERVED.value)
                .values(
                    status=MessageStatus.SENT.value,
                    sent_at=now,
                    updated_at=now,
                    provider_message_id=provider_id,
                )
            )
    each = [
        {"row_id": ids[0], "provider_id": provider_id, "at": now}
        for provider_id, ids in sent.items()
        if len(ids) == 1
    ]
    if each:
        await session.execute(_SENT, each)
    for outcome in outcomes:
        row_id = outcome.delivery.row.id
        if isinstance(outcome.error, ProviderRejectedError):
            await _refused(session, outcome.delivery, outcome.error)
        elif isinstance(outcome.error, ProviderUnavailableError):
            # Unanswered: in doubt from the call's start. An error answer: certainly not taken.
            attempted_at = outcome.started_at if outcome.error.maybe_accepted else None
            await session.execute(
                update(Message).where(Message.id == row_id).values(attempted_at=attempted_at)
            )
        elif outcome.skipped is not None:
            await session.execute(
                update(Message)
                .where(Message.id == row_id)
                .values(status=MessageStatus.SKIPPED.value, reason=outcome.skipped)
            )
    await session.commit()


async def _refused(
    session: AsyncSession, delivery: Delivery, rejected: ProviderRejectedError
) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == delivery.row.id)
        .values(status=MessageStatus.FAILED.value, reason=rejected.reason[:200])
    )
    if rejected.suppress_address:
        await suppress_address(session, delivery.channel, delivery.address, rejected.reason)


async def skip_unsent(
    session: AsyncSession, ids: Sequence[int], reason: str, in_doubt_for: timedelta
) -> None:
    """What a superseded or expired incident had not sent is skipped, with the reason.

    Rows still in doubt keep waiting for evidence: they may have gone.
    """
    await session.execute(
        update(Message)
        .where(Message.id.in_(ids), _retryable(in_doubt_for))
        .values(status=MessageStatus.SKIPPED.value, reason=reason)
    )
    await session.commit()


async def raise_unless_settled(
    session: AsyncSession, ids: Sequence[int], evidence_window: timedelta
) -> None:
    """After a page: Temporal retries it until every row has a verdict. Rows whose send may
    have gone wait for evidence first; rows nobody holds any more go on the next attempt."""
    rows = list(
        await session.execute(
            select(Message.status, Message.attempted_at).where(
                Message.id.in_(ids),
                Message.status.in_([MessageStatus.PENDING.value, MessageStatus.RESERVED.value]),
            )
        )
    )
    ledger.raise_if_in_doubt(rows, evidence_window)
    if rows:
        raise ApplicationError(
            f"{len(rows)} message(s) not sent yet", type="NotYetSent", next_retry_delay=_SOON
        )


async def tally(session: AsyncSession, ids: Sequence[int]) -> IncidentTally:
    outcomes = await count_outcomes(session, Message.id.in_(ids))
    return IncidentTally(sent=outcomes.sent, failed=outcomes.failed, skipped=outcomes.skipped)
