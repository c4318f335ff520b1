"""Bulk intake benchmark: `relay fans import` of N new fans into a fresh database.

    python bench/intake.py --fans 100000 [--database-url URL] [--format ndjson|csv]

Makes its own database (a SQLite file in a temporary folder; or, with a PostgreSQL URL, a
new database on that server, dropped at the end), writes N fans to a file, and runs
`relay fans import` on it in its own process, as an operator would. Prints the time, the
import process's peak memory, and last `rate: N fans/s` (fans written over the whole run
of the command, its start-up included).
"""
# ruff: noqa: ASYNC221  (one child process, timed as a whole)

import argparse
import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.fan_files import PROFILE_COLUMNS  # noqa: E402
from journeys.locales import SUPPORTED_LOCALES  # noqa: E402
from relay.db.migrate import upgrade_to_head_async  # noqa: E402
from relay.db.urls import async_database_url  # noqa: E402

ZONES = ["Europe/Paris", "Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Berlin"]
COUNTRIES = ["FR", "GB", "US", "JP", "DE", "BR", "CN", "SA", "IT"]
SPORTS = ["athletics", "fencing", "judo", "rowing", "surfing", "cycling"]


def fan(n: int, run: str) -> dict[str, Any]:
    return {
        "external_id": f"bench-{run}-{n}",
        "email": f"fan{n}.{run}@example.org",
        "phone": f"+336{n % 10**8:08d}",
        "first_name": f"Fan {n}",
        "locale": SUPPORTED_LOCALES[n % len(SUPPORTED_LOCALES)],
        "country": COUNTRIES[n % len(COUNTRIES)],
        "time_zone": ZONES[n % len(ZONES)],
        "interests": SPORTS[: n % 4],
        "consents": {"email_marketing": {"granted": n % 3 != 0, "source": "bench"}},
    }


def fans(count: int) -> Iterator[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    return (fan(n, run) for n in range(count))


def write_file(path: Path, count: int, form: str) -> None:
    with path.open("w", newline="") as file:
        if form == "ndjson":
            for row in fans(count):
                file.write(json.dumps(row) + "\n")
            return
        writer = csv.writer(file)
        writer.writerow([*PROFILE_COLUMNS, "consents.email_marketing.granted"])
        for row in fans(count):
            values = [row[c] for c in PROFILE_COLUMNS if c != "interests"]
            granted = row["consents"]["email_marketing"]["granted"]
            writer.writerow([*values, "|".join(row["interests"]), str(granted).lower()])


@asynccontextmanager
async def fresh_database(url: str | None, folder: Path) -> AsyncIterator[str]:
    if url is None:
        sqlite_url = f"sqlite:///{folder / 'relay.db'}"
        await upgrade_to_head_async(async_database_url(sqlite_url))
        yield sqlite_url
        return
    name = f"relay_bench_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
        bench_url = make_url(url).set(database=name).render_as_string(hide_password=False)
        try:
            await upgrade_to_head_async(async_database_url(bench_url))
            yield bench_url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main(count: int, url: str | None, form: str, batch_rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"fans.{form}"
        write_file(source, count, form)
        async with fresh_database(url, Path(folder)) as database_url:
            backend = make_url(database_url).get_backend_name()
            command = [sys.executable, "-m", "apps.cli", "fans", "import", str(source)]
            command += ["--batch-rows", str(batch_rows), "--no-progress"]
            environment = {**os.environ, "RELAY_DATABASE_URL": database_url}
            started = time.perf_counter()
            result = subprocess.run(
                command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
            )
            seconds = time.perf_counter() - started
        size = source.stat().st_size
    if result.returncode != 0:
        raise SystemExit(f"the import failed ({result.returncode}):\n{result.stderr[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mib, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    print(f"database: {backend}, file: {form}, {size / 2**20:.1f} MiB, batch rows: {batch_rows}")
    print(result.stdout.strip())
    print(f"fans: {count} in {seconds:.1f} s (the command, start-up included)")
    print(f"peak memory of the import process: {peak_mib:.0f} MiB")
    # On a shared machine, how much of the time the import itself computed (the rest is
    # the database, and waiting for a core).
    print(f"CPU time of the import process: {cpu:.1f} s")
    print(f"rate: {count / seconds:.0f} fans/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fans", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--format", choices=["ndjson", "csv"], default="ndjson")
    parser.add_argument("--batch-rows", type=int, default=5_000)
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.fans, arguments.database_url, arguments.format, arguments.batch_rows)
    )
