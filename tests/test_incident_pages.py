"""Two attempts of one incident page at once: what Temporal does when an attempt overruns
its heartbeat while still sending. Each holder must still hear exactly once."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import IncidentPageInput
from activities.incidents import IncidentActivities
from activities.send import SendActivities
from relay.db.models import Incident
from tests.conftest import Sandbox
from tests.incidents import add_holders, add_session


async def test_two_attempts_of_one_page_send_each_holder_once(
    api: httpx.AsyncClient,
    sandbox: Sandbox,
    sessions: async_sessionmaker[AsyncSession],
    send_activities: SendActivities,
) -> None:
    session_id = await add_session(api)
    holders = await add_holders(api, sessions, 60, [session_id], sms_only_every=2)
    incident_id = f"inc_{uuid.uuid4().hex[:16]}"
    async with sessions() as db:
        db.add(
            Incident(
                id=incident_id,
                message="incident_gate_change",
                parameters={"to_gate": "K", "from_gate": "A"},
                scope={"sessions": [session_id]},
                channels=["email", "sms"],
                valid_until=datetime.now(UTC) + timedelta(hours=1),
                status="active",
            )
        )
        await db.commit()
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
