"""Incidents end to end: API, IncidentWorkflow on the dev server, real SDKs, the sandbox."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from relay.db.models import Incident, Ticket
from relay.settings import Settings
from tests.conftest import API_KEY, Sandbox
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


async def test_a_retry_with_the_same_idempotency_key_is_the_same_incident_sent_once(
    api: httpx.AsyncClient, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 20, [session_id])
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await api.post("/v1/incidents", json=gate_change([session_id]), headers=key)
    again = await api.post("/v1/incidents", json=gate_change([session_id]), headers=key)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    progress = await wait_until_done(api, first.json()["id"])
    late = await api.post("/v1/incidents", json=gate_change([session_id]), headers=key)
    assert late.status_code == 202 and late.json()["id"] == first.json()["id"]
    assert progress["sent"] == 20
    for holder in holders:
        assert len(sandbox.received_by(holder.email or "")) == 1


async def test_the_same_idempotency_key_with_another_request_is_refused(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await add_session(api)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await api.post("/v1/incidents", json=gate_change([session_id]), headers=key)
    assert first.status_code == 202
    other = gate_change([session_id])
    other["parameters"] = {"to_gate": "Z"}
    refused = await api.post("/v1/incidents", json=other, headers=key)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "different request" in refused.json()["detail"]
    async with sessions() as db:
        gates = set(await db.scalars(select(Ticket.gate).where(Ticket.session_id == session_id)))
    assert "Z" not in gates


class TcpRelay:
    """A TCP relay to the Temporal server that a test can cut: Temporal becomes unreachable."""

    def __init__(self, target: str) -> None:
        self.host, port = target.rsplit(":", 1)
        self.port = int(port)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def open(self, port: int = 0) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", port)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
        self.writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65_536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_with_temporal_unreachable_nothing_is_activated_and_a_retry_sends_once(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 10, [session_id])
    relay = TcpRelay(settings.temporal_address)
    address = await relay.open()
    app = create_app(settings.model_copy(update={"temporal_address": address}))
    body = gate_change([session_id])
    key = {"Idempotency-Key": uuid.uuid4().hex, "Authorization": f"Bearer {API_KEY}"}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://relay.test"
            ) as cut_off:
                await relay.cut()
                refused = await cut_off.post("/v1/incidents", json=body, headers=key)
                assert refused.status_code == 503, refused.text
                assert refused.headers["content-type"] == "application/problem+json"
                async with sessions() as db:
                    incidents = await db.scalars(select(Incident.scope))
                    assert {"sessions": [session_id]} not in list(incidents)
                await relay.open(int(address.rsplit(":", 1)[1]))
                retried = await cut_off.post("/v1/incidents", json=body, headers=key)
                assert retried.status_code == 202, retried.text
    finally:
        await relay.cut()
    done = await wait_until_done(api, retried.json()["id"])
    assert done["sent"] == 10
    for holder in holders:
        assert len(sandbox.received_by(holder.email or "")) == 1


PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    ("message", "parameters"),
    [
        ("incident_gate_change", {"to_gate": PAYLOAD, "from_gate": PAYLOAD}),
        ("incident_operator_notice", {"text": PAYLOAD, "text_fr": PAYLOAD, "text_ja": PAYLOAD}),
        ("incident_transport_disruption", {"line": PAYLOAD, "extra_minutes": 20}),
    ],
)
async def test_html_from_ticketing_or_an_operator_reaches_inboxes_as_text_never_as_markup(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    message: str,
    parameters: dict[str, object],
) -> None:
    session_id = await add_session(api, event_name=PAYLOAD, venue=PAYLOAD, sport=PAYLOAD)
    holders = await add_holders(api, sessions, 6, [session_id], gate=PAYLOAD, sms_only_every=2)
    response = await api.post(
        "/v1/incidents",
        json={
            "message": message,
            "parameters": parameters,
            "scope": {"sessions": [session_id]},
            "channels": ["email", "sms"],
        },
    )
    assert response.status_code == 202, response.text
    assert (await wait_until_done(api, response.json()["id"]))["sent"] == 6
    for holder in holders:
        [received] = sandbox.received_by(holder.email or holder.phone or "")
        if received.channel == "email":
            assert received.html is not None and "<img" not in received.html
            assert "&lt;img src=x onerror=alert(1)&gt;" in received.html
            assert PAYLOAD in (received.subject or "")
            # The plain-text part is text: shown as written, never HTML-escaped.
            assert PAYLOAD in (received.text or "") and "&lt;" not in (received.text or "")
        else:
            assert PAYLOAD in (received.text or "")  # an SMS is plain text: shown as written
