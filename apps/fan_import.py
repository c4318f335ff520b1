"""`relay fans import FILE`: fans from CSV or NDJSON straight into the database.

An operator tool, run next to the database: each row is validated as `POST /v1/fans`
validates one fan and written by the same batch upsert as `POST /v1/fans/batch` (COPY into
a staging table and one upsert on PostgreSQL, batched inserts on SQLite). One batch is in
memory at a time, whatever the file's size. After each committed batch a checkpoint file
says how far the import got: run the same command again after an interruption and it goes
on from there. Rejected rows go to a file with their reasons, one JSON object a line.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.batches import MAX_BATCH_ROWS
from api.fan_upsert import upsert_fans
from api.problems import describe_error
from api.routes.fans import LOCALE_REQUIRED
from api.schemas import FanRequest
from apps.fan_files import (
    MAX_LINE_BYTES,
    FileRefused,
    Record,
    csv_header,
    csv_records,
    ndjson_records,
)
from relay.db.engine import create_engine, session_factory
from relay.settings import Settings

DEFAULT_BATCH_ROWS = 5_000
FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
# The file's start identifies it: a checkpoint is only ever applied to the file it was for.
_FINGERPRINT_BYTES = 64 * 1024
# Exit codes: every row in; finished with some rows rejected; the file refused at once.
DONE, DONE_WITH_REJECTIONS, REFUSED = 0, 3, 2


def add_fan_commands(commands: Any) -> None:
    fans = commands.add_parser("fans", help="load fans in bulk")
    actions = fans.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "import",
        help="import fans from CSV or NDJSON into the database (resumable)",
        description=__doc__,
        epilog=f"Limits: {MAX_BATCH_ROWS:,} rows a batch; a line over {MAX_LINE_BYTES // 1024} "
        "KiB is rejected without being read whole.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", type=Path)
    load.add_argument("--format", choices=["csv", "ndjson"], help="default: from the extension")
    load.add_argument(
        "--batch-rows",
        type=int,
        default=DEFAULT_BATCH_ROWS,
        help=f"rows a transaction (1 to {MAX_BATCH_ROWS:,}; default {DEFAULT_BATCH_ROWS:,})",
    )
    load.add_argument("--rejected", type=Path, help="default: FILE.rejected.ndjson")
    load.add_argument("--checkpoint", type=Path, help="default: FILE.checkpoint.json")
    load.add_argument("--no-progress", action="store_true", help="no progress bar")


@dataclass
class Checkpoint:
    """How far an import got: everything before `offset` is committed."""

    fingerprint: str
    offset: int = 0
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    rejected_bytes: int = 0


@dataclass
class _Batch:
    rows: list[tuple[Record, FanRequest]] = field(default_factory=list)
    external_ids: set[str] = field(default_factory=set)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    end: int = 0
    last_number: int = 0

    def __len__(self) -> int:
        return len(self.rows) + len(self.rejected)


def run_fan_command(arguments: argparse.Namespace, settings: Settings) -> int:
    path: Path = arguments.file
    form = arguments.format or FORMATS.get(path.suffix.lower())
    if form is None:
        return _refuse(f"{path}: its extension does not say; give --format csv or ndjson")
    if not 1 <= arguments.batch_rows <= MAX_BATCH_ROWS:
        return _refuse(f"--batch-rows must be 1 to {MAX_BATCH_ROWS:,}")
    if not path.is_file():
        return _refuse(f"{path}: no such file")
    importer = _Importer(
        path,
        form,
        arguments.batch_rows,
        arguments.rejected or path.with_name(path.name + ".rejected.ndjson"),
        arguments.checkpoint or path.with_name(path.name + ".checkpoint.json"),
        show_progress=not arguments.no_progress,
    )
    try:
        return asyncio.run(importer.run(settings))
    except FileRefused as refusal:
        return _refuse(f"{path}: {refusal}")


def _refuse(why: str) -> int:
    Console(stderr=True).print(f"refused: {why}", markup=False, highlight=False)
    return REFUSED


class _Importer:
    def __init__(
        self,
        path: Path,
        form: str,
        batch_rows: int,
        rejected_path: Path,
        checkpoint_path: Path,
        show_progress: bool,
    ) -> None:
        self.path, self.form, self.batch_rows = path, form, batch_rows
        self.rejected_path, self.checkpoint_path = rejected_path, checkpoint_path
        self.console = Console(stderr=True)
        self.show_progress = show_progress

    async def run(self, settings: Settings) -> int:
        checkpoint = self._checkpoint()
        started = time.monotonic()
        first_row = checkpoint.rows
        engine = create_engine(settings.sqlalchemy_url)
        sessions = session_factory(engine)
        try:
            with self.path.open("rb") as file, self._rejected_file(checkpoint) as rejected:
                records = self._records(file, checkpoint)
                with self._progress() as progress:
                    task = progress.add_task(
                        "fans", total=self.path.stat().st_size, rows=checkpoint.rows
                    )
                    progress.update(task, completed=checkpoint.offset)
                    async for batch in _read_ahead(self._batches(records)):
                        await self._write(sessions, batch, checkpoint)
                        self._record(batch, checkpoint, rejected)
                        progress.update(task, completed=checkpoint.offset, rows=checkpoint.rows)
        finally:
            await engine.dispose()
        self.checkpoint_path.unlink(missing_ok=True)
        if not checkpoint.rejected:
            self.rejected_path.unlink(missing_ok=True)
        self._summary(checkpoint, checkpoint.rows - first_row, time.monotonic() - started)
        return DONE_WITH_REJECTIONS if checkpoint.rejected else DONE

    def _checkpoint(self) -> Checkpoint:
        with self.path.open("rb") as file:
            fingerprint = hashlib.sha256(file.read(_FINGERPRINT_BYTES)).hexdigest()
        if not self.checkpoint_path.exists():
            return Checkpoint(fingerprint)
        saved = Checkpoint(**json.loads(self.checkpoint_path.read_text()))
        if saved.fingerprint != fingerprint:
            raise FileRefused(
                f"it is not the file {self.checkpoint_path} was written for: "
                "delete that checkpoint to import this file from its start"
            )
        self.console.print(
            f"resuming after row {saved.rows:,} (checkpoint {self.checkpoint_path})",
            markup=False,
            highlight=False,
        )
        return saved

    def _rejected_file(self, checkpoint: Checkpoint) -> BinaryIO:
        # Rows rejected after the last checkpoint are rejected again on resume: cut them off.
        rejected = self.rejected_path.open("ab")
        rejected.truncate(checkpoint.rejected_bytes)
        rejected.seek(checkpoint.rejected_bytes)  # tell() stays where the old end was
        return rejected

    def _records(self, file: BinaryIO, checkpoint: Checkpoint) -> Iterator[Record]:
        if self.form == "ndjson":
            file.seek(checkpoint.offset)
            return ndjson_records(file, checkpoint.rows + 1)
        columns = csv_header(file)
        file.seek(max(checkpoint.offset, file.tell()))
        return csv_records(file, columns, checkpoint.rows + 1)

    def _batches(self, records: Iterator[Record]) -> Iterator[_Batch]:
        batch = _Batch()
        for record in records:
            request = self._validate(record, batch)
            if request is not None and request.external_id in batch.external_ids:
                # A fan twice in one transaction: write the first before reading the second.
                yield batch
                batch = _Batch()
            if request is not None:
                batch.rows.append((record, request))
                batch.external_ids.add(request.external_id)
            batch.end, batch.last_number = record.end, record.number
            if len(batch) >= self.batch_rows:
                yield batch
                batch = _Batch()
        if len(batch):
            yield batch

    def _validate(self, record: Record, batch: _Batch) -> FanRequest | None:
        if record.fields is None:
            batch.rejected.append(_rejection(record, [{"field": "row", "message": record.problem}]))
            return None
        try:
            return FanRequest.model_validate(record.fields)
        except ValidationError as error:
            batch.rejected.append(_rejection(record, [describe_error(e) for e in error.errors()]))
            return None

    async def _write(
        self, sessions: async_sessionmaker[AsyncSession], batch: _Batch, checkpoint: Checkpoint
    ) -> None:
        async with sessions() as session:
            outcomes = await upsert_fans(session, [request for _, request in batch.rows])
            await session.commit()
        for (record, _), outcome in zip(batch.rows, outcomes, strict=True):
            if outcome is None:
                error = {"field": "locale", "message": LOCALE_REQUIRED}
                batch.rejected.append(_rejection(record, [error]))
            elif outcome.created:
                checkpoint.created += 1
            else:
                checkpoint.updated += 1

    def _record(self, batch: _Batch, checkpoint: Checkpoint, rejected: BinaryIO) -> None:
        """After the batch's commit: its rejected rows, then the checkpoint that covers it."""
        for rejection in sorted(batch.rejected, key=lambda r: int(r["row"])):
            rejected.write(json.dumps(rejection, ensure_ascii=False).encode() + b"\n")
        rejected.flush()
        os.fsync(rejected.fileno())
        checkpoint.rows = batch.last_number
        checkpoint.offset = batch.end
        checkpoint.rejected += len(batch.rejected)
        checkpoint.rejected_bytes = rejected.tell()
        partial = self.checkpoint_path.with_name(self.checkpoint_path.name + ".partial")
        partial.write_text(json.dumps(asdict(checkpoint)))
        partial.replace(self.checkpoint_path)

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.show_progress,
        )

    def _summary(self, checkpoint: Checkpoint, rows: int, seconds: float) -> None:
        rate = rows / seconds if seconds else 0.0
        print(
            f"imported {self.path}: {checkpoint.rows:,} rows, {checkpoint.created:,} created, "
            f"{checkpoint.updated:,} updated, {checkpoint.rejected:,} rejected"
            + (f" (reasons in {self.rejected_path})" if checkpoint.rejected else "")
        )
        print(f"this run: {rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)")


async def _read_ahead(batches: Iterator[_Batch]) -> AsyncIterator[_Batch]:
    """Each batch, the next one read and validated in a thread while this one is written:
    the database works in its own process (or SQLite in its own thread) meanwhile."""
    upcoming = asyncio.create_task(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await upcoming) is not None:
            upcoming = asyncio.create_task(asyncio.to_thread(next, batches, None))
            yield batch
    finally:
        # Interrupted (an error writing): let the reader finish before the file closes.
        with contextlib.suppress(Exception):
            await upcoming


def _rejection(record: Record, errors: list[dict[str, Any]]) -> dict[str, Any]:
    shown: dict[str, Any] = (
        {"record": record.fields} if record.fields is not None else {"text": record.text}
    )
    return {"row": record.number, "errors": errors, **shown}
