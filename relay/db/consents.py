"""Recording consent and suppressing addresses: shared by the API, webhooks and activities."""

from sqlalchemy.ext.asyncio import AsyncSession

from relay.db.dialect import insert_ignoring_conflict
from relay.db.models import Consent, Fan, Suppression, utcnow


def record_consent(fan: Fan, purpose: str, granted: bool, source: str) -> None:
    """Set the fan's word on a purpose; the time moves only when the word changes."""
    current = next((c for c in fan.consents if c.purpose == purpose), None)
    if current is None:
        fan.consents.append(Consent(purpose=purpose, granted=granted, source=source))
    elif current.granted != granted or current.source != source:
        current.granted, current.source, current.recorded_at = granted, source, utcnow()


async def suppress_address(session: AsyncSession, channel: str, address: str, reason: str) -> None:
    """Never write to this address on this channel again (idempotent). Caller commits."""
    await insert_ignoring_conflict(
        session,
        Suppression.__table__,  # type: ignore[arg-type]
        {"channel": channel, "address": address, "reason": reason, "created_at": utcnow()},
        ["channel", "address"],
    )
