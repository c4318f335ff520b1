"""What became of a set of ledger rows: sent, failed, skipped (by reason), still pending."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.db.models import Message, MessageStatus


@dataclass
class Outcomes:
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    pending: int = 0


async def count_outcomes(session: AsyncSession, *conditions: Any) -> Outcomes:
    outcomes = Outcomes()
    rows = await session.execute(
        select(Message.status, Message.reason, func.count())
        .where(*conditions)
        .group_by(Message.status, Message.reason)
    )
    for status, reason, count in rows:
        if status in (MessageStatus.SENT, MessageStatus.BOUNCED):
            outcomes.sent += count
        elif status == MessageStatus.FAILED:
            outcomes.failed += count
        elif status == MessageStatus.SKIPPED:
            key = reason or "unknown"
            outcomes.skipped[key] = outcomes.skipped.get(key, 0) + count
        else:
            outcomes.pending += count
    return outcomes
