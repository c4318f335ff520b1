"""The few places where SQLite and PostgreSQL need different SQL, in one file."""

import json
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def insert_many_ignoring_conflict(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], unique_columns: list[str]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows in one statement."""
    if rows:
        statement = dialect_insert(session)(table).on_conflict_do_nothing(
            index_elements=unique_columns
        )
        await session.execute(statement, rows)


async def upsert_many(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], unique_columns: list[str]
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE of every other column, for many rows at once."""
    if not rows:
        return
    statement = dialect_insert(session)(table)
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
        dialect_insert(session)(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique_columns)
        # RETURNING, not rowcount: psycopg's async rowcount here is -1 whatever happened.
        .returning(table.c[unique_columns[0]])
    )
    result = await session.execute(statement)
    return result.first() is not None


async def copy_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Load rows into a (staging) table: COPY on PostgreSQL, its fastest way in by far;
    one executemany INSERT on SQLite. Every row has the keys of the first."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    # COPY's text format takes JSON as its text; psycopg would send a list as an array.
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    raw = await (await session.connection()).get_raw_connection()
    async with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        names = ", ".join(columns)
        async with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(
                    [json.dumps(row[c]) if c in as_json else row[c] for c in columns]
                )
        # A fresh temporary table has no statistics: without them the planner may read a
        # whole big table to join a small batch to it.
        await cursor.execute(f"ANALYZE {table.name}")
