"""The send activity through the real SDKs against the provider sandbox, on both databases."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.send import SendActivities
from relay.db.models import CompetitionSession, Message, Suppression
from tests.conftest import Sandbox, create_fan, unique_phone
from tests.sending import send, send_input


async def ledger_row(sessions: async_sessionmaker[AsyncSession], key: str) -> Message:
    async with sessions() as session:
        row = await session.scalar(select(Message).where(Message.key == key))
        assert row is not None
        return row


async def test_an_email_reaches_the_sandbox_in_the_fans_language(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api, locale="fr", first_name="Zoé")
    result = await send(send_activities, send_input(fan["id"]))
    assert result.status == "sent"
    [email] = sandbox.received_by(fan["email"])
    assert email.subject == "Bienvenue au Club des fans"
    assert "Bienvenue, Zoé !" in (email.text or "")
    assert email.custom_args["relay_message_id"] == str(result.ledger_id)


async def test_a_retried_send_after_success_does_not_send_again(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    fan = await create_fan(api)
    input = send_input(fan["id"])
    first = await send(send_activities, input)
    second = await send(send_activities, input)
    assert first == second
    assert len(sandbox.received_by(fan["email"])) == 1
    row = await ledger_row(sessions, f"{input.key}:email")
    assert row.status == "sent" and row.provider_message_id


async def test_a_marketing_email_without_consent_is_skipped_and_says_why(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api)
    result = await send(send_activities, send_input(fan["id"], category="marketing"))
    assert (result.status, result.reason) == ("skipped", "no_email_marketing_consent")
    assert sandbox.received_by(fan["email"]) == []


async def test_an_sms_goes_through_twilio_to_the_sandbox(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, locale="fr")
    result = await send(send_activities, send_input(fan["id"], channel="sms"))
    assert result.status == "sent"
    [sms] = sandbox.received_by(phone)
    assert sms.text is not None and sms.text.startswith("Club des fans")


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("+15005550004", "recipient replied STOP"),
        ("+15005550001", "invalid To number"),
        ("+15005550009", "not a mobile"),
    ],
)
async def test_a_refused_number_fails_is_suppressed_and_is_not_tried_again(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sessions: async_sessionmaker[AsyncSession],
    phone: str,
    reason: str,
) -> None:
    fan = await create_fan(api, phone=phone)
    failed = await send(send_activities, send_input(fan["id"], channel="sms"))
    assert failed.status == "failed" and reason in (failed.reason or "")
    async with sessions() as session:
        assert await session.scalar(select(Suppression).where(Suppression.address == phone))
    again = await send(send_activities, send_input(fan["id"], channel="sms"))
    assert (again.status, again.reason) == ("skipped", "address_suppressed")


async def test_an_address_sendgrid_refuses_is_suppressed(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api, email=f"invalid@{uuid.uuid4().hex[:8]}.example.org")
    failed = await send(send_activities, send_input(fan["id"]))
    assert failed.status == "failed" and "valid address" in (failed.reason or "")
    again = await send(send_activities, send_input(fan["id"]))
    assert again.reason == "address_suppressed"


@pytest.mark.parametrize(("provider", "channel"), [("sendgrid", "email"), ("twilio", "sms")])
@pytest.mark.parametrize("status", [429, 503])
async def test_a_rate_limit_or_outage_is_retried_then_sent_once(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    provider: str,
    channel: str,
    status: int,
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone)
    input = send_input(fan["id"], channel=channel)
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        fault = {"provider": provider, "status": status, "times": 1}
        await client.post("/api/faults", json=fault)
    with pytest.raises(ApplicationError) as raised:
        await send(send_activities, input)
    assert raised.value.type == "ProviderUnavailable" and not raised.value.non_retryable
    assert (await ledger_row(sessions, f"{input.key}:{channel}")).status == "reserved"
    assert (await send(send_activities, input)).status == "sent"
    assert len(sandbox.received_by(phone if channel == "sms" else fan["email"])) == 1


async def test_a_sendgrid_rate_limit_asks_temporal_to_wait_until_the_reset(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api)
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        fault = {"provider": "sendgrid", "status": 429, "times": 1, "retry_after_seconds": 30}
        await client.post("/api/faults", json=fault)
    with pytest.raises(ApplicationError) as raised:
        await send(send_activities, send_input(fan["id"]))
    delay = raised.value.next_retry_delay
    assert delay is not None and 20 <= delay.total_seconds() <= 31


async def test_a_template_that_raises_fails_at_once_as_a_render_error_never_in_doubt(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    fan = await create_fan(api)
    starts = datetime(2028, 7, 28, 19, 0, tzinfo=UTC)
    session_id = f"BAD-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        # A session loaded with a time zone no one knows: the template's time filter raises.
        session.add(
            CompetitionSession(
                id=session_id,
                sport="Athletics",
                event_name="Athletics: 100m",
                venue="Stade de France",
                venue_time_zone="Mars/Olympus",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
            )
        )
        await session.commit()
    input = send_input(
        fan["id"],
        message="previsit_transport",
        parameters={"session_id": session_id, "starts_at": starts.isoformat()},
    )
    result = await send(send_activities, input)
    assert (result.status, result.reason) == ("failed", "render_error")
    assert sandbox.received_by(fan["email"]) == []
    row = await ledger_row(sessions, f"{input.key}:email")
    assert row.attempted_at is None  # the provider was never called: nothing in doubt
    assert await send(send_activities, input) == result  # a retry reads the verdict
