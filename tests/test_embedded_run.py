"""`relay run` (what `make run` starts): up, a welcome email delivered, Ctrl-C, and resumed."""

import asyncio
import os
import socket
import sys
from pathlib import Path

import httpx
from temporalio.client import Client

from relay.preferences_links import preferences_token
from sandbox.threaded import free_port
from tests.conftest import unique_fan
from tests.embedded import embedded_environment, relay_run


async def wait_for_email(sandbox_url: str, address: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        for _ in range(200):
            received = (await client.get("/api/messages", params={"to": address})).json()
            if received:
                return list(received)
            await asyncio.sleep(0.1)
    raise AssertionError(f"no email for {address} at the sandbox")


async def test_relay_run_delivers_a_welcome_email_logs_no_secret_stops_cleanly_and_resumes(
    tmp_path: Path,
) -> None:
    environment = embedded_environment(tmp_path / "data")
    api_url = f"http://127.0.0.1:{environment['RELAY_API_PORT']}"
    sandbox_url = f"http://127.0.0.1:{environment['RELAY_SANDBOX_PORT']}"
    body = unique_fan(locale="fr")

    async with relay_run(environment) as output:
        api_key = (tmp_path / "data" / "api-key").read_text().strip()
        secret_key = (tmp_path / "data" / "secret-key").read_text().strip()
        assert any(str(tmp_path / "data" / "api-key") in line for line in output), (
            "the banner says where the API key is"
        )
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
            # The fan opens their preference page: the link's token is as good as a password.
            token = preferences_token(secret_key, fan["id"])
            assert (await api.get(f"/u/{token}")).status_code == 200
        temporal = await Client.connect(environment["RELAY_TEMPORAL_ADDRESS"])
        runs = [w async for w in temporal.list_workflows(f'FanId = "{fan["id"]}"')]
        assert [w.id for w in runs] == [enrolled.json()["workflow_id"]]
    logged = "".join(output)
    assert 'GET /u/… HTTP/1.1" 200' in logged
    assert token not in logged
    assert api_key not in logged
    assert secret_key not in logged

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
            sys.executable, "-m", "apps.cli", "run",
            env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert f"API (RELAY_API_PORT) 127.0.0.1:{environment['RELAY_API_PORT']}" in output.decode()


async def test_relay_run_never_prints_the_database_password(tmp_path: Path) -> None:
    environment = embedded_environment(tmp_path / "data")
    # Nothing listens there: the migrations fail, after the URL has been shown.
    environment["RELAY_DATABASE_URL"] = (
        f"postgresql://relay:pa55-w0rd@127.0.0.1:{free_port()}/relay"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "apps.cli", "run",
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode != 0
    assert "postgresql+psycopg://relay:***@127.0.0.1" in output.decode()
    assert "pa55-w0rd" not in output.decode()
