"""The draw's activities: record entries, shuffle them once and for good, offer places and
the waitlist, and tell each fan's journey what the draw decided for them.

The shuffle is fair (every order equally likely) and reproducible: `random.Random` seeded
with the published seed and the SHA-256 of the sorted entries. Anyone holding the entry list
and the seed can redo it; the digest in the workflow history proves which list it ran on.
"""

import asyncio
import hashlib
import random
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    FAN_NOT_FOUND,
    DrawLots,
    DrawLotsInput,
    LapseInput,
    OfferInput,
    RecordEntryInput,
)
from relay.db.dialect import insert_ignoring_conflict
from relay.db.models import DrawEntry, Fan, utcnow
from runs.contracts import EVENT_SIGNAL, ReceivedEvent, journey_workflow_id

SIGNALS_IN_FLIGHT = 50


def shuffled(fan_ids: list[str], seed: str) -> tuple[list[str], str]:
    """The draw's order of `fan_ids`, and the digest of the list it shuffled."""
    entries = sorted(fan_ids)
    digest = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    order = list(entries)
    random.Random(f"{seed}:{digest}").shuffle(order)
    return order, digest


class DrawActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn
    async def record_entry(self, input: RecordEntryInput) -> None:
        async with self._sessions() as session:
            if await session.get(Fan, input.fan_id) is None:
                # Erased: an entry cannot be written for them, and retrying will not help.
                raise ApplicationError(
                    f"fan {input.fan_id} does not exist", type=FAN_NOT_FOUND, non_retryable=True
                )
            if input.status == "entered":
                await insert_ignoring_conflict(
                    session,
                    DrawEntry.__table__,  # type: ignore[arg-type]
                    {
                        "draw": input.draw,
                        "fan_id": input.fan_id,
                        "status": "entered",
                        "entered_at": utcnow(),
                        "updated_at": utcnow(),
                    },
                    ["draw", "fan_id"],
                )
            else:
                # Only a place on offer can be confirmed; a lapsed one stays lapsed.
                await session.execute(
                    update(DrawEntry)
                    .where(
                        DrawEntry.draw == input.draw,
                        DrawEntry.fan_id == input.fan_id,
                        DrawEntry.status == "selected",
                    )
                    .values(status="confirmed")
                )
            await session.commit()

    @activity.defn
    async def draw_lots(self, input: DrawLotsInput) -> DrawLots:
        """Rank every entry made before the draw closed. Idempotent: a retry ranks the same
        entries the same way."""
        async with self._sessions() as session:
            fan_ids = list(
                await session.scalars(
                    select(DrawEntry.fan_id).where(
                        DrawEntry.draw == input.draw,
                        DrawEntry.entered_at <= datetime.fromisoformat(input.closes_at),
                    )
                )
            )
            order, digest = shuffled(fan_ids, input.seed)
            if order:
                await session.execute(
                    update(DrawEntry),
                    [{"draw": input.draw, "fan_id": f, "rank": n} for n, f in enumerate(order)],
                )
            await session.commit()
        activity.logger.info("draw %s: %d entries, digest %s", input.draw, len(order), digest)
        return DrawLots(applicants=len(order), digest=digest)

    @activity.defn
    async def offer_places(self, input: OfferInput) -> int:
        """Give `count` places for this round: round 0 to the best-ranked entries, later
        rounds to the waitlist in rank order. A retry finds the round's earlier choices."""
        source = "entered" if input.round == 0 else "waitlisted"
        chosen = await self._choose(
            input.draw,
            DrawEntry.offer_round == input.round,
            source,
            {"status": "selected", "offer_round": input.round},
            input.count,
        )
        await self._tell(input, chosen, "selected")
        return len(chosen)

    @activity.defn
    async def offer_waitlist(self, input: OfferInput) -> int:
        """Put the next `count` ranked entries on the waitlist (after round 0's places)."""
        chosen = await self._choose(
            input.draw,
            DrawEntry.status == "waitlisted",
            "entered",
            {"status": "waitlisted"},
            input.count,
        )
        await self._tell(input, chosen, "waitlisted")
        return len(chosen)

    @activity.defn
    async def lapse_unconfirmed(self, input: LapseInput) -> int:
        """Places of this round still unconfirmed lapse; their number is offered again."""
        async with self._sessions() as session:
            await session.execute(
                update(DrawEntry)
                .where(
                    DrawEntry.draw == input.draw,
                    DrawEntry.offer_round == input.round,
                    DrawEntry.status == "selected",
                )
                .values(status="lapsed")
            )
            lapsed = await session.scalar(
                select(func.count()).where(
                    DrawEntry.draw == input.draw,
                    DrawEntry.offer_round == input.round,
                    DrawEntry.status == "lapsed",
                )
            )
            await session.commit()
        return int(lapsed or 0)

    async def _choose(
        self, draw: str, already: object, source: str, values: dict[str, object], count: int
    ) -> list[str]:
        async with self._sessions() as session:
            earlier = list(
                await session.scalars(
                    select(DrawEntry.fan_id).where(DrawEntry.draw == draw, already)  # type: ignore[arg-type]
                )
            )
            more = count - len(earlier)
            fresh: list[str] = []
            if more > 0:
                fresh = list(
                    await session.scalars(
                        select(DrawEntry.fan_id)
                        .where(
                            DrawEntry.draw == draw,
                            DrawEntry.status == source,
                            DrawEntry.rank.is_not(None),
                        )
                        .order_by(DrawEntry.rank)
                        .limit(more)
                    )
                )
                if fresh:
                    await session.execute(
                        update(DrawEntry)
                        .where(DrawEntry.draw == draw, DrawEntry.fan_id.in_(fresh))
                        .values(**values)
                    )
            await session.commit()
        return earlier + fresh

    async def _tell(self, input: OfferInput, fan_ids: list[str], result: str) -> None:
        """Signal each fan's journey run; the event id makes a retried signal harmless."""
        in_flight = asyncio.Semaphore(SIGNALS_IN_FLIGHT)

        async def one(fan_id: str) -> None:
            async with in_flight:
                handle = self._client.get_workflow_handle(
                    journey_workflow_id(input.journey, fan_id)
                )
                event = ReceivedEvent(
                    event_id=f"{input.draw}:{result}:{input.round}:{fan_id}",
                    type="torch.drawn",
                    data={"result": result},
                )
                try:
                    await handle.signal(EVENT_SIGNAL, event)
                except RPCError as error:
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise
                    # The fan was erased, or their journey already ended: nothing to tell.
                activity.heartbeat()

        await asyncio.gather(*(one(fan_id) for fan_id in fan_ids))
