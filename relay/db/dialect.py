"""The few places where SQLite and PostgreSQL need different SQL, in one file."""

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def insert_many_ignoring_conflict(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], unique_columns: list[str]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows in one statement."""
    if rows:
        statement = _insert(session)(table).on_conflict_do_nothing(index_elements=unique_columns)
        await session.execute(statement, rows)


async def upsert_many(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], unique_columns: list[str]
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE of every other column, for many rows at once."""
    if not rows:
        return
    statement = _insert(session)(table)
    changed = {
        column: statement.excluded[column] for column in rows[0] if column not in unique_columns
    }
    await session.execute(
        statement.on_conflict_do_update(index_elements=unique_columns, set_=changed), rows
    )


async def insert_ignoring_conflict(
    session: AsyncSession, table: Table, values: dict[str, Any], unique_columns: list[str]
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; true when this call inserted the row."""
    statement = (
        _insert(session)(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique_columns)
        # RETURNING, not rowcount: psycopg's async rowcount here is -1 whatever happened.
        .returning(table.c[unique_columns[0]])
    )
    result = await session.execute(statement)
    return result.first() is not None
