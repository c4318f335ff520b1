"""Failed SMS in one group, each classified on its own: a 429 was certainly not taken and goes
again on the next attempt; a connection dropped after Twilio read the request may have been
taken, so it waits for delivery evidence instead of going twice."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import IncidentPageInput
from activities.incidents import IncidentActivities
from activities.send import SendActivities
from tests.conftest import Sandbox
from tests.incidents import WHOLE_AUDIENCE, add_holders, add_incident, add_session


async def test_a_429_goes_again_at_once_while_a_dropped_sms_in_its_group_waits_for_evidence(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    send_activities: SendActivities,
) -> None:
    session_id = await add_session(api)
    # One language, zone and gate: one SMS group.
    holders = await add_holders(api, sessions, 20, [session_id], locales=("fr",))
    incident_id = await add_incident(sessions, session_id, ["sms"])
    # The group goes in fan id order: the 429 comes before the dropped connection.
    limited, dropped = sorted(holders, key=lambda h: h.fan_id)[:2]
    async with httpx.AsyncClient(base_url=sandbox.url) as control:
        await control.post(
            "/api/faults",
            json={"provider": "twilio", "to": limited.phone, "status": 429, "times": 1,
                  "retry_after_seconds": 7},
        )  # fmt: skip
        await control.post(
            "/api/faults",
            json={"provider": "twilio", "to": dropped.phone, "drop_connection": True, "times": 1},
        )
    incidents = IncidentActivities(sessions, send_activities)
    page = IncidentPageInput(incident_id, after=[], upto=list(WHOLE_AUDIENCE))

    async def attempt() -> ApplicationError | None:
        try:
            await ActivityEnvironment().run(incidents.send_incident_page, page)
        except ApplicationError as error:
            return error
        return None

    first = await attempt()
    second = await attempt()  # Temporal's retry, well inside the evidence window

    for holder in holders:
        assert len(sandbox.received_by(holder.phone or "")) == 1, holder
    assert first is not None and first.type == "ProviderUnavailable"
    assert first.next_retry_delay == timedelta(seconds=7)  # Twilio's Retry-After
    assert second is not None and second.type == "DeliveryInDoubt"
