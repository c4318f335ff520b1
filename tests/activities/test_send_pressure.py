"""Categories, caps, quiet hours, fallbacks and unsubscribe links in the send activity."""

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.send import SendActivities
from relay.db.models import Message
from relay.preferences_links import fan_id_from_token
from tests.conftest import Sandbox, create_fan, unique_phone
from tests.sending import WEDNESDAY_AFTERNOON, send, send_input

TOKYO = ZoneInfo("Asia/Tokyo")
BOTH_CONSENTS = {
    "email_marketing": {"granted": True, "source": "test"},
    "sms_marketing": {"granted": True, "source": "test"},
}


async def ledger(sessions: async_sessionmaker[AsyncSession], fan_id: str) -> list[Message]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Message).where(Message.fan_id == fan_id).order_by(Message.id)
        )
        return list(rows)


async def test_a_marketing_sms_at_23_in_tokyo_is_deferred_to_8_in_the_tokyo_morning(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, time_zone="Asia/Tokyo", consents=BOTH_CONSENTS)
    input = send_input(fan["id"], channel="sms", category="marketing")
    at_23h = datetime(2027, 3, 10, 23, 0, tzinfo=TOKYO)

    deferred = await send(send_activities, input, at=at_23h)
    assert (deferred.status, deferred.reason) == ("deferred", "quiet_hours")
    assert deferred.retry_at == datetime(2027, 3, 11, 8, 0, tzinfo=TOKYO)
    assert sandbox.received_by(phone) == []

    sent = await send(send_activities, input, at=deferred.retry_at)
    assert sent.status == "sent" and len(sandbox.received_by(phone)) == 1
    [row] = await ledger(sessions, fan["id"])
    assert (row.deferral_count, row.deferral_reason) == (1, "quiet_hours")


async def test_two_concurrent_sends_against_a_cap_of_one_give_exactly_one_message(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    fan = await create_fan(api, consents=BOTH_CONSENTS)
    inputs = [send_input(fan["id"], category="marketing") for _ in range(4)]
    results = await asyncio.gather(*(send(send_activities, i) for i in inputs))
    assert sorted(r.status for r in results) == ["deferred", "deferred", "deferred", "sent"]
    assert len(sandbox.received_by(fan["email"])) == 1
    assert {r.reason for r in results if r.status == "deferred"} == {"cap:1-a-day"}
    rows = await ledger(sessions, fan["id"])
    assert sorted(r.status for r in rows) == ["deferred", "deferred", "deferred", "sent"]


async def test_a_step_that_skips_under_pressure_is_skipped_with_the_reason(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api, consents=BOTH_CONSENTS)
    assert (
        await send(send_activities, send_input(fan["id"], category="marketing"))
    ).status == "sent"
    skipped = await send(
        send_activities, send_input(fan["id"], category="marketing", on_pressure="skip")
    )
    assert (skipped.status, skipped.reason) == ("skipped", "cap:1-a-day")


async def test_urgent_messages_bypass_caps_and_quiet_hours_but_not_their_validity(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, time_zone="Asia/Tokyo")
    at_3am = datetime(2027, 3, 10, 3, 0, tzinfo=TOKYO)
    urgent = send_input(fan["id"], channel="sms", category="urgent")
    assert (await send(send_activities, urgent, at=at_3am)).status == "sent"
    stale = send_input(
        fan["id"], channel="sms", category="urgent", send_before=at_3am - timedelta(minutes=1)
    )
    expired = await send(send_activities, stale, at=at_3am)
    assert (expired.status, expired.reason) == ("skipped", "expired")
    assert len(sandbox.received_by(phone)) == 1


async def test_urgent_messages_still_respect_a_suppressed_address(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(api, phone="+15005550004")  # replied STOP at Twilio
    await send(send_activities, send_input(fan["id"], channel="sms"))
    urgent = await send(send_activities, send_input(fan["id"], channel="sms", category="urgent"))
    assert (urgent.status, urgent.reason) == ("skipped", "address_suppressed")


async def test_a_deferral_that_would_outlive_the_step_limit_is_skipped_as_stale(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    fan = await create_fan(
        api, phone=unique_phone(), consents=BOTH_CONSENTS, time_zone="Asia/Tokyo"
    )
    at_23h = datetime(2027, 3, 10, 23, 0, tzinfo=TOKYO)
    limit = at_23h + timedelta(hours=1)
    input = send_input(fan["id"], channel="sms", category="marketing", send_before=limit)
    result = await send(send_activities, input, at=at_23h)
    assert (result.status, result.reason) == ("skipped", "quiet_hours")


async def test_the_same_service_message_twice_in_a_day_is_a_duplicate(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api)
    assert (await send(send_activities, send_input(fan["id"]))).status == "sent"
    again = await send(
        send_activities, send_input(fan["id"]), at=WEDNESDAY_AFTERNOON + timedelta(hours=2)
    )
    assert (again.status, again.reason) == ("skipped", "duplicate")
    tomorrow = await send(
        send_activities, send_input(fan["id"]), at=WEDNESDAY_AFTERNOON + timedelta(days=1, hours=1)
    )
    assert tomorrow.status == "sent"
    assert len(sandbox.received_by(fan["email"])) == 2


async def test_service_reminders_about_two_sessions_a_day_apart_are_both_sent(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    # J-1 reminders of sessions on consecutive days: 24 h apart, give or take timer jitter.
    fan = await create_fan(api)
    first = send_input(fan["id"], item="2028-07-28", parameters={"session_id": "ATH-1"})
    second = send_input(fan["id"], item="2028-07-29", parameters={"session_id": "SWM-2"})
    early = WEDNESDAY_AFTERNOON + timedelta(hours=23, minutes=59, seconds=59)
    assert (await send(send_activities, first)).status == "sent"
    assert (await send(send_activities, second, at=early)).status == "sent"
    same_item_again = send_input(fan["id"], item="2028-07-29")
    again = await send(send_activities, same_item_again, at=early + timedelta(hours=1))
    assert (again.status, again.reason) == ("skipped", "duplicate")
    assert len(sandbox.received_by(fan["email"])) == 2


async def test_when_the_email_is_refused_the_message_goes_by_its_other_channel(
    api: httpx.AsyncClient,
    send_activities: SendActivities,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    phone = unique_phone()
    fan = await create_fan(
        api,
        email=f"invalid@{uuid.uuid4().hex[:8]}.example.org",
        phone=phone,
        consents=BOTH_CONSENTS,
    )
    input = send_input(
        fan["id"], message="club_sports_nudge", category="marketing", fallback_channels=["sms"]
    )
    result = await send(send_activities, input)
    assert (result.status, result.channel) == ("sent", "sms")
    assert len(sandbox.received_by(phone)) == 1
    rows = await ledger(sessions, fan["id"])
    assert [(r.channel, r.status) for r in rows] == [("email", "failed"), ("sms", "sent")]


async def test_a_marketing_email_carries_a_one_click_unsubscribe_link_for_its_fan(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api, consents=BOTH_CONSENTS, locale="fr")
    await send(
        send_activities, send_input(fan["id"], message="club_sports_nudge", category="marketing")
    )
    [email] = sandbox.received_by(fan["email"])
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = email.headers["List-Unsubscribe"].strip("<>")
    assert link in (email.html or "") and "Se désabonner" in (email.html or "")
    assert fan_id_from_token("test-secret-key", link.rsplit("/", 1)[1]) == fan["id"]


async def test_a_service_email_has_no_unsubscribe_link(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    fan = await create_fan(api)
    await send(send_activities, send_input(fan["id"]))
    [email] = sandbox.received_by(fan["email"])
    assert "List-Unsubscribe" not in email.headers


async def test_a_service_sms_timed_at_the_venue_keeps_the_venues_quiet_hours(
    api: httpx.AsyncClient, send_activities: SendActivities, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    fan = await create_fan(api, phone=phone, time_zone="America/New_York")
    ten_in_paris = datetime(2028, 7, 27, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 04:00 NY
    at_home = await send(send_activities, send_input(fan["id"], channel="sms"), at=ten_in_paris)
    assert (at_home.status, at_home.reason) == ("deferred", "quiet_hours")
    at_venue = send_input(fan["id"], channel="sms", quiet_hours_zone="Europe/Paris", item="eve")
    assert (await send(send_activities, at_venue, at=ten_in_paris)).status == "sent"
    at_night_in_paris = send_input(
        fan["id"], channel="sms", quiet_hours_zone="Europe/Paris", item="night"
    )
    night = await send(send_activities, at_night_in_paris, at=ten_in_paris + timedelta(hours=13))
    assert (night.status, night.reason) == ("deferred", "quiet_hours")
    assert len(sandbox.received_by(phone)) == 1
