"""Many concurrent writers in one process all get the database, in turn."""

import asyncio
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.db.engine import create_engine, session_factory
from relay.db.models import Fan, utcnow
from tests.conftest import DatabaseUnderTest

# 72 transactions of 0.2 s hold the write lock for 14 s in all, more than the 10 s a write
# waits: SQLite's polling busy handler lets some writer starve past it. Taking turns in arrival
# order, no writer waits for more than the 23 others (about 5 s), which leaves a margin on a
# loaded machine.
WRITERS = 24
TRANSACTIONS_EACH = 3


async def _read_then_write(sessions: async_sessionmaker[AsyncSession], tag: str) -> None:
    async with sessions() as session:
        await session.scalar(select(func.count()).select_from(Fan))
        session.add(
            Fan(external_id=tag, locale="en", time_zone="Europe/Paris", created_at=utcnow())
        )
        await session.flush()
        # A busy event loop between statements: the transaction holds the write lock meanwhile.
        await asyncio.sleep(0.2)
        await session.commit()


async def test_concurrent_read_then_write_transactions_all_commit(
    database: DatabaseUnderTest,
) -> None:
    # Like the API under many clients: more writers than pooled connections, all at once.
    engine = create_engine(database.url)
    sessions = session_factory(engine)
    run = uuid.uuid4().hex[:8]

    async def writer(number: int) -> None:
        for n in range(TRANSACTIONS_EACH):
            await _read_then_write(sessions, f"writer-{run}-{number}-{n}")

    outcomes = await asyncio.gather(*(writer(w) for w in range(WRITERS)), return_exceptions=True)

    failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    async with sessions() as session:
        written = await session.scalar(
            select(func.count()).select_from(Fan).where(Fan.external_id.like(f"writer-{run}-%"))
        )
    assert written == WRITERS * TRANSACTIONS_EACH
    await engine.dispose()
