"""Incidents end to end: API, IncidentWorkflow on the dev server, real SDKs, the sandbox."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.db.models import Ticket
from tests.conftest import Sandbox
from tests.incidents import add_holders, add_session, wait_until_done

pytestmark = pytest.mark.usefixtures("workers")

SUBJECT_START = {"fr": "Important : ", "en": "Important: ", "ja": "重要："}  # noqa: RUF001
GATE_K = {"fr": "la porte K", "en": "use gate K", "ja": "K番ゲート"}


def gate_change(session_ids: list[str], **extra: object) -> dict[str, object]:
    return {
        "message": "incident_gate_change",
        "parameters": {"to_gate": "K", "from_gate": "A"},
        "scope": {"sessions": session_ids},
        "channels": ["email", "sms"],
        "valid_for_minutes": 90,
        **extra,
    }


async def test_a_gate_change_reaches_every_holder_once_in_their_language_with_the_gate(
    api: httpx.AsyncClient, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
) -> None:
    final, heats = await add_session(api), await add_session(api, event_name="Heats")
    holders = await add_holders(api, sessions, 120, [final])
    both = await add_holders(api, sessions, 9, [final, heats])  # two tickets, one message

    response = await api.post("/v1/incidents", json=gate_change([final, heats]))
    assert response.status_code == 202, response.text
    progress = await wait_until_done(api, response.json()["id"])

    assert progress["audience"] == 129 and progress["sent"] == 129
    assert progress["failed"] == 0 and progress["skipped"] == {}
    for holder in holders + both:
        [email] = sandbox.received_by(holder.email or "")
        assert email.subject is not None and email.subject.startswith(SUBJECT_START[holder.locale])
        assert GATE_K[holder.locale] in (email.text or "")
    async with sessions() as db:
        gates = set(await db.scalars(select(Ticket.gate).where(Ticket.session_id == final)))
    assert gates == {"K"}  # later messages about this session show the new gate


async def test_fans_without_email_hear_by_sms(
    api: httpx.AsyncClient, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 30, [session_id], sms_only_every=3)
    response = await api.post("/v1/incidents", json=gate_change([session_id]))
    progress = await wait_until_done(api, response.json()["id"])
    assert progress["sent"] == 30
    for holder in holders:
        by_email = sandbox.received_by(holder.email) if holder.email else []
        by_sms = sandbox.received_by(holder.phone or "")
        assert len(by_email) + len(by_sms) == 1
        assert (len(by_sms) == 1) == (holder.email is None)


async def test_a_second_gate_change_supersedes_the_first(
    api: httpx.AsyncClient, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 3000, [session_id])
    first = (await api.post("/v1/incidents", json=gate_change([session_id]))).json()
    second_body = gate_change([session_id], supersedes=first["id"])
    second_body["parameters"] = {"to_gate": "B"}
    second = await api.post("/v1/incidents", json=second_body)
    assert second.status_code == 202, second.text

    done_first = await wait_until_done(api, first["id"])
    done_second = await wait_until_done(api, second.json()["id"])
    assert done_first["status"] == "superseded"
    assert done_first["superseded_by"] == second.json()["id"]
    assert done_first["sent"] + done_first["skipped"].get("superseded", 0) <= 3000
    assert done_second["sent"] == 3000
    for holder in holders:
        received = sandbox.received_by(holder.email or "")
        about_b = [m for m in received if "B" in (m.text or "").split("gate")[-1]]
        assert len(about_b) == 1 and len(received) <= 2
    again = await api.post("/v1/incidents", json=gate_change([session_id], supersedes=first["id"]))
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"parameters": {}}, "missing parameter 'to_gate'"),
        ({"parameters": {"to_gate": "K", "gate_colour": "red"}}, "unknown parameter 'gate_colour'"),
        ({"message": "incident_alien_landing"}, "unknown incident message"),
        (
            {"message": "incident_session_rescheduled", "parameters": {"new_start": "tomorrow"}},
            "ISO 8601",
        ),
        (
            {"scope": {"sessions": ["NO-SUCH-SESSION"]}},
            "unknown sessions in scope: NO-SUCH-SESSION",
        ),
        ({"scope": {"venue": "Stade de France"}}, "needs both from and until"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"supersedes": "inc_nothing"}, "supersedes names no incident"),
    ],
)
async def test_a_bad_activation_is_refused_before_anything_is_sent(
    api: httpx.AsyncClient, change: dict[str, object], says: str
) -> None:
    session_id = await add_session(api)
    response = await api.post("/v1/incidents", json={**gate_change([session_id]), **change})
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]


async def test_with_a_fifth_of_provider_calls_failing_every_holder_still_gets_one_message(
    api: httpx.AsyncClient, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 400, [session_id], sms_only_every=4)
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        await client.post("/api/faults", json={"provider": "sendgrid", "status": 429, "rate": 0.2})
        await client.post("/api/faults", json={"provider": "twilio", "status": 503, "rate": 0.2})
    try:
        response = await api.post("/v1/incidents", json=gate_change([session_id]))
        progress = await wait_until_done(api, response.json()["id"], seconds=120)
    finally:
        async with httpx.AsyncClient(base_url=sandbox.url) as client:
            for provider in ("sendgrid", "twilio"):
                await client.post(
                    "/api/faults", json={"provider": provider, "status": 200, "times": 0}
                )
    assert progress["sent"] == 400
    for holder in holders:
        count = len(sandbox.received_by(holder.email or "")) + len(
            sandbox.received_by(holder.phone or "")
        )
        assert count == 1, holder
