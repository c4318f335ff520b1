"""The incident activities: plan pages of ticket holders, send a page, finish.

Every fan has one ledger row per incident, so retries and restarts never send twice.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import audience, ledger
from activities.contracts import (
    FinishIncidentInput,
    IncidentPageInput,
    IncidentPlan,
    IncidentTally,
    PlanIncidentInput,
)
from activities.incidents import claims
from activities.incidents.claims import Delivery
from activities.incidents.email import send_email_group
from activities.incidents.rendering import (
    choose_channel,
    group_context,
    groups,
    with_text_gate,
)
from activities.incidents.sms import send_sms_group
from activities.incidents.validity import Validity
from activities.providers.errors import ProviderUnavailableError
from activities.send import SendActivities
from relay.db.models import Incident, Message, MessageStatus


class IncidentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], sends: SendActivities) -> None:
        # The same renderer, provider clients and settings as single sends.
        self._sessions = sessions
        self._renderer = sends.renderer
        self._email = sends.email
        self._sms = sends.sms
        self._settings = sends.settings

    @activity.defn
    async def plan_incident(self, input: PlanIncidentInput) -> IncidentPlan:
        async with self._sessions() as session:
            incident = await _incident(session, input.incident_id)
            size = None
            if not input.after:
                size = await audience.audience_size(session, incident.scope)
                incident.audience = size
                await session.commit()
            boundaries, exhausted = await audience.page_boundaries(
                session, incident.scope, input.after, input.page_size, input.pages
            )
            return IncidentPlan(boundaries=boundaries, exhausted=exhausted, audience=size)

    @activity.defn
    async def send_incident_page(self, input: IncidentPageInput) -> IncidentTally:
        window = self._settings.evidence_window
        async with self._sessions() as session:
            incident = await _incident(session, input.incident_id)
            holders = await audience.holders(session, incident.scope, input.after, input.upto)
            suppressed = await claims.suppressed(session, holders)
            choices = {h.fan_id: choose_channel(incident, h, suppressed) for h in holders}
            rows = await claims.reserve_rows(session, incident, holders, choices)
            deliveries = [
                Delivery(rows[h.fan_id], *choice, h)
                for h in holders
                if (choice := choices[h.fan_id]) is not None
                and rows[h.fan_id].status not in ledger.SETTLED
            ]
            validity = Validity(incident)
            not_taken: list[ProviderUnavailableError] = []
            for group in groups(deliveries):
                await validity.refresh(session)
                if not validity.open():
                    break
                # The other groups go now whatever happens to this one.
                not_taken += await self._send_group(session, incident, validity, group)
                activity.heartbeat()
            ids = [row.id for row in rows.values()]
            if not validity.open():
                await claims.skip_unsent(session, ids, validity.why_closed(), window)
            if not_taken:
                # Certainly not taken (429, 5xx): Temporal retries the page for them soon.
                raise ApplicationError(
                    not_taken[0].reason,
                    type="ProviderUnavailable",
                    next_retry_delay=max(
                        (e.retry_after for e in not_taken if e.retry_after), default=None
                    ),
                )
            # Unanswered sends (this attempt's, or another's) wait for evidence before any resend.
            await claims.raise_unless_settled(session, ids, window)
            return await claims.tally(session, ids)

    @activity.defn
    async def finish_incident(self, input: FinishIncidentInput) -> None:
        async with self._sessions() as session:
            incident = await _incident(session, input.incident_id)
            if incident.status == "active":
                stopped_by_time = await session.scalar(
                    select(Message.id)
                    .where(
                        Message.journey == "incident",
                        Message.step == incident.id,
                        Message.status == MessageStatus.SKIPPED.value,
                        Message.reason == "expired",
                    )
                    .limit(1)
                )
                incident.status = "expired" if stopped_by_time is not None else input.status
                await session.commit()

    async def _send_group(
        self, session: AsyncSession, incident: Incident, validity: Validity, group: list[Delivery]
    ) -> list[ProviderUnavailableError]:
        context = group_context(incident, group)
        locale, window = group[0].holder.locale, self._settings.evidence_window
        if group[0].channel == "sms":
            body = self._renderer.render_sms(incident.message, locale, context).body
            callback = f"{self._settings.public_url}/v1/webhooks/twilio/status?message_id="
            return await send_sms_group(session, self._sms, validity, group, body, callback, window)
        email = with_text_gate(self._renderer.render_email(incident.message, locale, context))
        return await send_email_group(
            session, self._email, validity, group, email, incident.id, window
        )


async def _incident(session: AsyncSession, incident_id: str) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise ApplicationError(f"no incident {incident_id}", non_retryable=True)
    return incident
