"""`relay incident trigger|show`: operators drive incidents from a terminal."""

import asyncio
import os
import sys
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from relay.settings import Settings
from sandbox.threaded import free_port, serve_in_thread
from tests.conftest import API_KEY, Sandbox
from tests.incidents import add_holders, add_session

pytestmark = pytest.mark.usefixtures("workers")


async def relay(settings: Settings, *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "apps.cli", "incident", *arguments,
        env={**os.environ, "RELAY_API_KEY": API_KEY, "RELAY_PUBLIC_URL": settings.api_public_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_an_operator_triggers_and_watches_a_gate_change(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 12, [session_id])
    port = free_port()
    served = settings.model_copy(update={"api_port": port})
    with serve_in_thread(create_app(served), port):
        code, output = await relay(
            served, "trigger", "incident_gate_change", "--session", session_id,
            "--param", "to_gate=K", "--channel", "email", "--watch",
        )  # fmt: skip
        assert code == 0, output
        assert "completed: sent 12/12, failed 0, skipped 0, pending 0" in output
        incident_id = output.split()[1]
        code, shown = await relay(served, "show", incident_id)
        assert code == 0 and "sent 12/12" in shown
        code, refused = await relay(
            served, "trigger", "incident_gate_change", "--session", session_id
        )
        assert code == 2 and "missing parameter 'to_gate'" in refused
    assert all(len(sandbox.received_by(h.email or "")) == 1 for h in holders)


async def test_triggering_twice_with_one_idempotency_key_is_one_incident(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 5, [session_id])
    port = free_port()
    served = settings.model_copy(update={"api_port": port})
    trigger = (
        "trigger", "incident_operator_notice", "--session", session_id, "--channel", "email",
        "--param", "text=Doors open 30 minutes late.", "--idempotency-key", uuid.uuid4().hex,
    )  # fmt: skip
    with serve_in_thread(create_app(served), port):
        first_code, first = await relay(served, *trigger, "--watch")
        second_code, second = await relay(served, *trigger)
    assert first_code == second_code == 0, first + second
    assert first.split()[1] == second.split()[1]
    assert all(len(sandbox.received_by(h.email or "")) == 1 for h in holders)
