"""Reading a fan and their reachable channels, for traits and for sends."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.db.models import Channel, Fan, Suppression


def address_on(fan: Fan, channel: str) -> str | None:
    return fan.email if channel == Channel.EMAIL else fan.phone


async def suppressed_channels(session: AsyncSession, fan: Fan) -> set[str]:
    addresses = {(ch, address_on(fan, ch)) for ch in Channel}
    found = await session.execute(
        select(Suppression.channel, Suppression.address).where(
            Suppression.address.in_([a for _, a in addresses if a])
        )
    )
    return {channel for channel, address in found if (channel, address) in addresses}


async def reachable_channels(session: AsyncSession, fan: Fan) -> list[str]:
    suppressed = await suppressed_channels(session, fan)
    return sorted(ch.value for ch in Channel if address_on(fan, ch) and ch not in suppressed)
