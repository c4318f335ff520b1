"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from relay.db.engine import create_engine
from relay.db.models import Base
from tests.conftest import DatabaseUnderTest


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrated_database_matches_the_models(database: DatabaseUnderTest) -> None:
    engine = create_engine(database.url)
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
    await engine.dispose()
