"""An incident's validity window is checked against the time of each send, and a broadcast
that stops at it ends as `expired`."""

from dataclasses import replace
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.contracts import FinishIncidentInput, IncidentPageInput
from activities.incidents import IncidentActivities
from activities.send import SendActivities
from relay.db.models import utcnow
from tests.conftest import Sandbox
from tests.incidents import WHOLE_AUDIENCE, add_holders, add_incident, add_session


async def test_a_page_that_starts_after_the_window_sends_nothing_and_the_incident_expires(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    send_activities: SendActivities,
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 10, [session_id], sms_only_every=2)
    # The gate change stopped being true a second ago...
    incident_id = await add_incident(
        sessions, session_id, ["email", "sms"], valid_for=timedelta(seconds=-1)
    )
    # ...but this page attempt was scheduled while it still was (a backlog, a retry).
    environment = ActivityEnvironment()
    environment.info = replace(
        environment.info, current_attempt_scheduled_time=utcnow() - timedelta(minutes=5)
    )
    incidents = IncidentActivities(sessions, send_activities)
    page = IncidentPageInput(incident_id, after=[], upto=list(WHOLE_AUDIENCE))

    tally = await environment.run(incidents.send_incident_page, page)
    await ActivityEnvironment().run(
        incidents.finish_incident, FinishIncidentInput(incident_id, "completed")
    )

    for holder in holders:
        assert sandbox.received_by(holder.email or "") == [], holder
        assert sandbox.received_by(holder.phone or "") == [], holder
    assert tally.sent == 0 and tally.skipped == {"expired": 10}
    progress = (await api.get(f"/v1/incidents/{incident_id}")).json()
    assert progress["status"] == "expired" and progress["pending"] == 0
