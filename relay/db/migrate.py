"""Apply Alembic migrations programmatically (at start-up and in tests)."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def upgrade_to_head(sqlalchemy_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url)
    command.upgrade(config, "head")


async def upgrade_to_head_async(sqlalchemy_url: str) -> None:
    # env.py runs its own event loop, so from async code it needs a thread of its own.
    await asyncio.to_thread(upgrade_to_head, sqlalchemy_url)
