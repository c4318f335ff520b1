"""`relay fans import FILE` as an operator runs it: a real process on a real database."""

import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.db.engine import create_engine, session_factory
from relay.db.models import Consent, Fan
from tests.conftest import DatabaseUnderTest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def db(database: DatabaseUnderTest) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database.url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def start_import(
    database: DatabaseUnderTest, *arguments: str | Path
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "apps.cli", "fans", "import", *map(str, arguments)),
        cwd=ROOT,
        env={**os.environ, "RELAY_DATABASE_URL": database.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def relay_fans_import(database: DatabaseUnderTest, *arguments: str | Path) -> Finished:
    process = await start_import(database, *arguments)
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def fans_by_external_id(
    db: async_sessionmaker[AsyncSession], external_ids: list[str]
) -> dict[str, Fan]:
    async with db() as session:
        found = await session.scalars(select(Fan).where(Fan.external_id.in_(external_ids)))
        return {fan.external_id: fan for fan in found}


def rejected_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_an_ndjson_file_is_imported_and_bad_rows_are_set_aside_with_reasons(
    database: DatabaseUnderTest, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    tag = f"nd-{database.backend}-{time.monotonic_ns()}"
    lines = [
        json.dumps({"external_id": f"{tag}-1", "email": "zoe@example.org", "locale": "fr",
                    "consents": {"sms_marketing": {"granted": True, "source": "club"}}}),
        json.dumps({"external_id": f"{tag}-2", "phone": "0612345678", "locale": "fr"}),
        "",
        "{not json",
        json.dumps({"external_id": f"{tag}-3"}),
        json.dumps({"external_id": f"{tag}-4", "locale": "ja", "first_name": "<b>Kenji</b>"}),
    ]  # fmt: skip
    source = tmp_path / "fans.ndjson"
    source.write_text("\n".join(lines) + "\n")

    result = await relay_fans_import(database, source, "--no-progress")

    assert result.returncode == 3, result.stderr
    assert "5 rows, 2 created, 0 updated, 3 rejected" in result.stdout
    fans = await fans_by_external_id(db, [f"{tag}-{n}" for n in range(1, 5)])
    assert sorted(fans) == [f"{tag}-1", f"{tag}-4"]
    assert fans[f"{tag}-4"].first_name == "<b>Kenji</b>"
    async with db() as session:
        consent = await session.scalar(select(Consent).where(Consent.fan_id == fans[f"{tag}-1"].id))
    assert consent is not None and (consent.purpose, consent.granted, consent.source) == (
        "sms_marketing",
        True,
        "club",
    )
    rejected = rejected_rows(tmp_path / "fans.ndjson.rejected.ndjson")
    assert [(r["row"], r["errors"][0]["field"]) for r in rejected] == [
        (2, "phone"),
        (3, "row"),
        (4, "locale"),
    ]
    assert rejected[0]["record"]["phone"] == "0612345678"
    assert rejected[1]["text"] == "{not json"
    assert not (tmp_path / "fans.ndjson.checkpoint.json").exists()


async def test_a_csv_file_upserts_by_external_id_and_an_empty_cell_changes_nothing(
    database: DatabaseUnderTest, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    tag = f"csv-{database.backend}-{time.monotonic_ns()}"
    header = "external_id,email,first_name,locale,interests,consents.email_marketing.granted\n"
    first = tmp_path / "first.csv"
    first.write_text(header + f'{tag},a@example.org,"Zoé, dite ""Zo""",fr,judo|fencing,true\n')
    second = tmp_path / "second.csv"
    second.write_text(header + f"{tag},,,ja,,false\r\n")

    assert (await relay_fans_import(database, first, "--no-progress")).returncode == 0
    result = await relay_fans_import(database, second, "--no-progress")

    assert result.returncode == 0, result.stderr
    assert "1 rows, 0 created, 1 updated, 0 rejected" in result.stdout
    fan = (await fans_by_external_id(db, [tag]))[tag]
    assert (fan.email, fan.first_name, fan.locale) == ("a@example.org", 'Zoé, dite "Zo"', "ja")
    assert fan.interests == ["judo", "fencing"]
    assert [(c.purpose, c.granted) for c in fan.consents] == [("email_marketing", False)]
    assert not (tmp_path / "second.csv.rejected.ndjson").exists()


async def test_a_csv_header_with_an_unknown_column_is_refused_before_any_row(
    database: DatabaseUnderTest, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    tag = f"hdr-{database.backend}-{time.monotonic_ns()}"
    source = tmp_path / "fans.csv"
    source.write_text(f"external_id,locale,shoe_size\n{tag},fr,42\n")
    result = await relay_fans_import(database, source, "--no-progress")
    assert result.returncode == 2
    assert "unknown: shoe_size" in result.stderr
    assert await fans_by_external_id(db, [tag]) == {}


async def test_an_import_killed_midway_goes_on_where_it_stopped_when_run_again(
    database: DatabaseUnderTest, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    tag = f"kill-{database.backend}-{time.monotonic_ns()}"
    total = 20_000
    source = tmp_path / "fans.ndjson"
    with source.open("w") as file:
        for n in range(total):
            locale = "xx" if n % 1000 == 7 else "en"  # one bad row in each thousand
            file.write(json.dumps({"external_id": f"{tag}-{n}", "locale": locale}) + "\n")
    checkpoint = tmp_path / "fans.ndjson.checkpoint.json"
    process = await start_import(database, source, "--batch-rows", "200", "--no-progress")
    for _ in range(30_000):  # a first batch committed, or 5 minutes
        if checkpoint.exists() or process.returncode is not None:
            break
        await asyncio.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    await process.communicate()
    done_before = json.loads(checkpoint.read_text())["rows"]
    assert 0 < done_before < total

    result = await relay_fans_import(database, source, "--batch-rows", "5000", "--no-progress")

    assert result.returncode == 3, result.stderr
    assert f"resuming after row {done_before:,}" in result.stderr
    assert f"{total:,} rows" in result.stdout and "20 rejected" in result.stdout
    async with db() as session:
        imported = await session.scalar(
            select(func.count()).select_from(Fan).where(Fan.external_id.like(f"{tag}-%"))
        )
    assert imported == total - 20
    rejected = rejected_rows(tmp_path / "fans.ndjson.rejected.ndjson")
    assert [r["row"] for r in rejected] == [n + 1 for n in range(total) if n % 1000 == 7]


async def test_a_checkpoint_is_not_applied_to_another_file(
    database: DatabaseUnderTest, tmp_path: Path
) -> None:
    source = tmp_path / "fans.ndjson"
    source.write_text(json.dumps({"external_id": "x", "locale": "en"}) + "\n")
    checkpoint = tmp_path / "fans.ndjson.checkpoint.json"
    checkpoint.write_text(json.dumps({"fingerprint": "0" * 64, "offset": 10, "rows": 1}))
    result = await relay_fans_import(database, source, "--no-progress")
    assert result.returncode == 2
    assert "delete that checkpoint" in result.stderr


async def test_rows_rejected_after_the_last_checkpoint_are_not_kept_twice_on_resume(
    database: DatabaseUnderTest, tmp_path: Path
) -> None:
    # Killed after writing a batch's rejected rows but before its checkpoint: the re-run
    # rejects them again, so what the checkpoint does not cover is cut off.
    tag = f"cut-{database.backend}-{time.monotonic_ns()}"
    source = tmp_path / "fans.ndjson"
    with source.open("w") as file:
        file.write(json.dumps({"external_id": f"{tag}-bad", "locale": "xx"}) + "\n")
        offset = file.tell()
        for n in range(20_000):
            file.write(json.dumps({"external_id": f"{tag}-{n}", "locale": "en"}) + "\n")
    rejected = tmp_path / "fans.ndjson.rejected.ndjson"
    covered = b'{"row": 1, "errors": [], "text": "covered by the checkpoint"}\n'
    rejected.write_bytes(covered + b'{"row": 2, "errors": [], "text": "not covered"}\n' * 50)
    checkpoint = tmp_path / "fans.ndjson.checkpoint.json"
    fingerprint = hashlib.sha256(source.read_bytes()[: 64 * 1024]).hexdigest()
    saved = {"fingerprint": fingerprint, "offset": offset, "rows": 1, "rejected": 1}
    checkpoint.write_text(json.dumps(saved | {"rejected_bytes": len(covered)}))

    process = await start_import(database, source, "--batch-rows", "100", "--no-progress")
    for _ in range(30_000):  # a first batch committed, or 5 minutes
        if json.loads(checkpoint.read_text())["rows"] > 1 or process.returncode is not None:
            break
        await asyncio.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    await process.communicate()

    assert json.loads(checkpoint.read_text())["rejected_bytes"] == len(covered)
    assert rejected.read_bytes() == covered
