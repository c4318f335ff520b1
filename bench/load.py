"""Mixed API load on the embedded default: `relay run` (SQLite, worker, sandbox webhooks).

    python bench/load.py [--clients 64] [--fans-per-client 16]

Each client creates fans, enrolls them (the worker sends a welcome email each, and the sandbox
calls back with signed webhooks), updates them and reads their ledger, all at once. Prints
requests/s, the count of 5xx and unanswered requests, and the status counts.
"""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.embedded import embedded_environment, relay_run  # noqa: E402
from tests.load import mixed_load  # noqa: E402


async def main(clients: int, fans_per_client: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        environment = embedded_environment(Path(folder) / "data")
        async with relay_run(environment) as output:
            api_key = (Path(folder) / "data" / "api-key").read_text().strip()
            api_url = f"http://127.0.0.1:{environment['RELAY_API_PORT']}"
            result = await mixed_load(api_url, api_key, clients, fans_per_client)
        locked = sum("database is locked" in line for line in output)
    print(f"clients: {clients}, fans: {clients * fans_per_client}")
    print(f"requests: {result.requests} in {result.seconds:.1f} s")
    print(f"requests/s: {result.requests / result.seconds:.1f}")
    print(f"statuses: {dict(sorted(result.statuses.items()))}")
    for failure in (result.server_errors + result.unanswered)[:5]:
        print(f"  {failure[:300]}")
    print(f"log lines saying 'database is locked' (API and worker): {locked}")
    print(f"5xx or unanswered: {result.failures}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--fans-per-client", type=int, default=16)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.clients, arguments.fans_per_client))
