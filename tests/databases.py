"""Test databases: a fresh SQLite file or a fresh PostgreSQL database, migrated to head."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from relay.db.migrate import upgrade_to_head_async
from relay.db.urls import async_database_url

# A developer without PostgreSQL may opt out explicitly; CI never does, so there it fails.
BACKENDS = os.environ.get("RELAY_TEST_DATABASES", "sqlite,postgresql").split(",")
POSTGRES_ADMIN_URL = os.environ.get(
    "RELAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def sqlite_database(folder: Path) -> AsyncIterator[str]:
    url = async_database_url(f"sqlite:///{folder / 'relay.db'}")
    await upgrade_to_head_async(url)
    yield url


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    name = f"relay_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await psycopg.AsyncConnection.connect(POSTGRES_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL} ({error}). Start it, point "
            "RELAY_TEST_POSTGRES_URL at one, or run with RELAY_TEST_DATABASES=sqlite.",
            pytrace=False,
        )
    async with admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = async_database_url(
            make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
        )
        try:
            await upgrade_to_head_async(url)
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def fresh_database(backend: str, folder: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        async with sqlite_database(folder) as url:
            yield url
    elif backend == "postgresql":
        async with postgres_database() as url:
            yield url
    else:
        raise ValueError(f"RELAY_TEST_DATABASES names an unknown backend {backend!r}")
