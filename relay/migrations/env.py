"""Alembic environment: runs migrations over the async engine Relay uses everywhere."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from relay.db.engine import create_engine
from relay.db.models import Base
from relay.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().sqlalchemy_url


def _run(connection: Connection) -> None:
    # batch mode lets ALTER TABLE work on SQLite, which rebuilds tables to alter them.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
