"""Build the async engine; on SQLite, writers take turns so the API and worker share one file."""

import asyncio
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

# How long a write waits for its turn in this process, then (again) for other processes.
WRITE_WAIT_SECONDS = 10.0
_HOLDS_TURN = "relay_holds_sqlite_write_turn"


def create_engine(url: str) -> AsyncEngine:
    # Bound values stay out of error messages, which reach workflow histories and logs:
    # suppression lookups and fan upserts bind email addresses and phone numbers.
    engine = create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        _SQLiteWriters(WRITE_WAIT_SECONDS).install(engine)
    if engine.dialect.name == "postgresql":
        event.listen(engine.sync_engine, "handle_error", _postgres_message_without_values)
    return engine


def _postgres_message_without_values(context: ExceptionContext) -> None:
    # PostgreSQL repeats the offending values in its message ("DETAIL: Key (address)=(...)"):
    # keep its primary message only. The detail stays on the error's `diag` for code.
    original, wrapped = context.original_exception, context.sqlalchemy_exception
    primary = getattr(getattr(original, "diag", None), "message_primary", None)
    if primary and wrapped is not None:
        full = str(original)
        original.args = (primary,)
        wrapped.args = (str(wrapped.args[0]).replace(full, primary),)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class _SQLiteWriters:
    """One write transaction at a time per engine, in arrival order, each begun IMMEDIATE.

    SQLite's busy handler polls rather than queues, so many writers in one process starve
    each other, and a transaction that reads before writing fails at once if another writer
    committed in between. So reads before a transaction's first write run in autocommit
    (cheap, like the driver's own default), and the first write waits for this engine's turn
    (an asyncio lock, fair) and then for other processes (BEGIN IMMEDIATE, busy_timeout).
    The turn is given back when the connection returns to the pool, after COMMIT or ROLLBACK.
    """

    def __init__(self, wait_seconds: float) -> None:
        self._turn = asyncio.Lock()
        self._wait_seconds = wait_seconds

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", self._connect)
        event.listen(engine.sync_engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.sync_engine.pool, "checkin", self._checkin)

    def _connect(self, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # The driver must not BEGIN on its own: `_before_execute` decides when and how.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one writer writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(self._wait_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    def _before_execute(self, conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        pooled = conn.connection
        if _is_read(statement) or pooled.driver_connection.in_transaction:  # type: ignore[union-attr]
            return
        holder = pooled.record_info
        assert holder is not None and pooled.dbapi_connection is not None
        if not holder.get(_HOLDS_TURN):
            pooled.dbapi_connection.run_async(lambda _: self._wait_for_turn())
            holder[_HOLDS_TURN] = True
        cursor.execute("BEGIN IMMEDIATE")

    async def _wait_for_turn(self) -> None:
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._turn.acquire()
        except TimeoutError:
            # The driver's own error for a busy database, so callers handle one error.
            raise sqlite3.OperationalError(
                f"database is locked: no write turn within {self._wait_seconds:.0f} s"
            ) from None

    def _checkin(self, _dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if record.record_info is not None and record.record_info.pop(_HOLDS_TURN, False):
            self._turn.release()


def _is_read(statement: str) -> bool:
    return statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA")
