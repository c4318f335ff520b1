"""Two attempts of one incident page at once: what Temporal does when an attempt overruns
its heartbeat while still sending. Each holder must still hear exactly once."""

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import IncidentPageInput
from activities.incidents import IncidentActivities
from activities.send import SendActivities
from tests.conftest import Sandbox
from tests.incidents import add_holders, add_incident, add_session


async def test_two_attempts_of_one_page_send_each_holder_once(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    send_activities: SendActivities,
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 60, [session_id], sms_only_every=2)
    incident_id = await add_incident(sessions, session_id, ["email", "sms"])
    # The page runs from the start to past every (locale, time zone, fan id).
    page = IncidentPageInput(incident_id, after=[], upto=["~", "~", "~"])
    incidents = IncidentActivities(sessions, send_activities)

    async def attempt() -> None:
        await ActivityEnvironment().run(incidents.send_incident_page, page)

    outcomes = await asyncio.gather(attempt(), attempt(), return_exceptions=True)
    # An attempt that finds the other's rows in flight backs off (Temporal retries it later).
    for outcome in outcomes:
        assert outcome is None or (
            isinstance(outcome, ApplicationError) and outcome.type == "DeliveryInDoubt"
        ), outcome

    for holder in holders:
        received = sandbox.received_by(holder.email or "") + sandbox.received_by(holder.phone or "")
        assert len(received) == 1, holder
