"""`relay run` (what `make run` starts): up, a welcome email delivered, Ctrl-C, and resumed."""

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from temporalio.client import Client

from sandbox.threaded import free_port
from tests.conftest import unique_fan

STARTUP_SECONDS = 120


@asynccontextmanager
async def relay_run(environment: dict[str, str]) -> AsyncIterator[list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.cli", "run",
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


async def wait_for_email(sandbox_url: str, address: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        for _ in range(200):
            received = (await client.get("/api/messages", params={"to": address})).json()
            if received:
                return list(received)
            await asyncio.sleep(0.1)
    raise AssertionError(f"no email for {address} at the sandbox")


async def test_relay_run_delivers_a_welcome_email_stops_cleanly_and_resumes(
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in ("temporal", "ui", "api", "sandbox")}
    environment = {
        **os.environ,
        "RELAY_DATA_DIR": str(tmp_path / "data"),
        "RELAY_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "RELAY_TEMPORAL_UI_PORT": str(ports["ui"]),
        "RELAY_API_PORT": str(ports["api"]),
        "RELAY_SANDBOX_PORT": str(ports["sandbox"]),
    }
    environment.pop("RELAY_API_KEY", None)
    environment.pop("RELAY_DATABASE_URL", None)
    api_url = f"http://127.0.0.1:{ports['api']}"
    sandbox_url = f"http://127.0.0.1:{ports['sandbox']}"
    body = unique_fan(locale="fr")

    async with relay_run(environment) as output:
        api_key = (tmp_path / "data" / "api-key").read_text().strip()
        assert any(api_key in line for line in output), "the banner shows the API key"
        async with httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}
        ) as api:
            fan = (await api.post("/v1/fans", json=body)).json()
            enrolled = await api.post(
                "/v1/journeys/club-onboarding/enrollments", json={"fan_id": fan["id"]}
            )
            assert enrolled.status_code == 201, enrolled.text
            [email] = await wait_for_email(sandbox_url, body["email"])
            assert email["subject"] == "Bienvenue au Club des fans"
            # The sandbox calls back like SendGrid does; the ledger learns of the delivery.
            for _ in range(100):
                [row] = (await api.get(f"/v1/fans/{fan['id']}/messages")).json()
                if row["delivered_at"]:
                    break
                await asyncio.sleep(0.1)
            assert row["delivered_at"], row
        temporal = await Client.connect(environment["RELAY_TEMPORAL_ADDRESS"])
        runs = [w async for w in temporal.list_workflows(f'FanId = "{fan["id"]}"')]
        assert [w.id for w in runs] == [enrolled.json()["workflow_id"]]

    async with relay_run(environment):
        async with httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}
        ) as api:
            assert (await api.get(f"/v1/fans/{fan['id']}")).status_code == 200
            again = await api.post(
                "/v1/journeys/club-onboarding/enrollments", json={"fan_id": fan["id"]}
            )
            assert again.json()["outcome"] == "already_enrolled"
            assert again.json()["status"] == "running"


async def test_relay_run_refuses_to_start_when_a_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        environment = {
            **os.environ,
            "RELAY_DATA_DIR": str(tmp_path / "data"),
            "RELAY_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "RELAY_TEMPORAL_UI_PORT": str(free_port()),
            "RELAY_API_PORT": str(squatter.getsockname()[1]),
            "RELAY_SANDBOX_PORT": str(free_port()),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay.cli", "run",
            env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert f"API (RELAY_API_PORT) 127.0.0.1:{environment['RELAY_API_PORT']}" in output.decode()
