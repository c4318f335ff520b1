"""`relay run` as a child process, for tests and benchmarks of the embedded default."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sandbox.threaded import free_port

STARTUP_SECONDS = 120


def embedded_environment(data_dir: Path) -> dict[str, str]:
    """`relay run`'s environment with its own data folder and free ports, default SQLite."""
    environment = {
        **os.environ,
        "RELAY_DATA_DIR": str(data_dir),
        "RELAY_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "RELAY_TEMPORAL_UI_PORT": str(free_port()),
        "RELAY_API_PORT": str(free_port()),
        "RELAY_SANDBOX_PORT": str(free_port()),
    }
    environment.pop("RELAY_API_KEY", None)
    environment.pop("RELAY_DATABASE_URL", None)
    return environment


@asynccontextmanager
async def relay_run(environment: dict[str, str]) -> AsyncIterator[list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "apps.cli", "run",
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    output: list[str] = []

    async def read_until_running() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line.decode(errors="replace"))
            if "Data folder" in output[-1]:  # the last line of the banner
                return
        raise AssertionError("relay run ended before it was running:\n" + "".join(output))

    reader: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(read_until_running(), STARTUP_SECONDS)
        reader = asyncio.create_task(_drain(process.stdout, output))
        yield output
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert await asyncio.wait_for(process.wait(), 60) == 0, "".join(output)
    finally:
        if process.returncode is None:  # a failed assertion: still stop the children cleanly
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()
        if reader is not None:
            await reader


async def _drain(stream: asyncio.StreamReader, output: list[str]) -> None:
    async for line in stream:
        output.append(line.decode(errors="replace"))
