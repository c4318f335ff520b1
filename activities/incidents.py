"""Incident broadcasts: plan pages of ticket holders, send each page in batches, once.

One rendered body per (channel, locale, time zone, session, gate): up to 1,000 email
recipients share a SendGrid request; SMS go out many at a time on Twilio's async client.
Every fan has one ledger row per incident, so retries and restarts never send twice.
"""

import asyncio
import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
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
from activities.providers.email import (
    MAX_PERSONALIZATIONS,
    OutgoingEmail,
    Recipient,
)
from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from activities.providers.sms import OutgoingSms
from activities.send import SendActivities
from journeys.incidents import template_values
from relay.db.consents import suppress_address
from relay.db.dialect import insert_many_ignoring_conflict
from relay.db.models import Incident, Message, MessageStatus, Suppression, utcnow
from relay.db.outcomes import count_outcomes

SMS_IN_FLIGHT = 50


# Email groups share one body across gates: SendGrid puts each recipient's gate in.
GATE_PLACEHOLDER = "-relay-gate-"


@dataclass(frozen=True)
class _Row:
    """What a page needs of a ledger row (plain columns: no ORM object per fan)."""

    id: int
    fan_id: str
    status: str
    attempted_at: datetime | None


@dataclass(frozen=True)
class _Delivery:
    row: _Row
    channel: str
    address: str
    holder: audience.HolderContext


def incident_key(incident_id: str, fan_id: str) -> str:
    return f"incident:{incident_id}:{fan_id}"


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
        now = activity.info().current_attempt_scheduled_time
        async with self._sessions() as session:
            incident = await _incident(session, input.incident_id)
            holders = await audience.holders(session, incident.scope, input.after, input.upto)
            suppressed = await _suppressed(session, holders)
            choices = {h.fan_id: _channel(incident, h, suppressed) for h in holders}
            rows = await _reserve_rows(session, incident, holders, choices, now)
            ledger.raise_if_in_doubt(list(rows.values()), self._settings.evidence_window)
            deliveries = [
                _Delivery(rows[h.fan_id], *choice, h)
                for h in holders
                if (choice := choices[h.fan_id]) is not None
                and rows[h.fan_id].status not in ledger.SETTLED
            ]
            retry_later: ApplicationError | None = None
            for group in _groups(deliveries):
                if not await _still_active(session, incident, now):
                    break
                try:
                    await self._send_group(session, incident, group)
                except ApplicationError as unavailable:
                    # Send the other groups now; Temporal retries the page for this one.
                    retry_later = retry_later or unavailable
                activity.heartbeat()
            ids = [row.id for row in rows.values()]
            await _skip_unsent(session, incident, ids, now)
            if retry_later is not None:
                raise retry_later
            return await _tally(session, ids)

    @activity.defn
    async def finish_incident(self, input: FinishIncidentInput) -> None:
        async with self._sessions() as session:
            incident = await _incident(session, input.incident_id)
            if incident.status == "active":
                incident.status = input.status
                await session.commit()

    async def _send_group(
        self, session: AsyncSession, incident: Incident, group: list[_Delivery]
    ) -> None:
        first = group[0]
        context: dict[str, Any] = {
            "event_name": first.holder.event_name,
            "venue": first.holder.venue,
            "starts_at": first.holder.starts_at,
            "time_zone": first.holder.time_zone,
            "gate": first.holder.gate,
            "parameters": incident.parameters,
            **template_values(incident.message, incident.parameters),
        }
        if first.channel == "sms":
            body = self._renderer.render_sms(incident.message, first.holder.locale, context).body
            await self._send_sms(session, group, body)
            return
        if first.holder.gate is not None:
            context["gate"] = GATE_PLACEHOLDER
        email = self._renderer.render_email(incident.message, first.holder.locale, context)
        for start in range(0, len(group), MAX_PERSONALIZATIONS):
            chunk = group[start : start + MAX_PERSONALIZATIONS]
            await self._send_email_chunk(session, chunk, email, incident.id)

    async def _send_email_chunk(
        self, session: AsyncSession, chunk: list[_Delivery], email: Any, incident_id: str
    ) -> None:
        chunk = await _claim(session, chunk, self._settings.evidence_window)
        while chunk:
            recipients = [
                Recipient(
                    d.address,
                    {"relay_message_id": str(d.row.id), "incident": incident_id},
                    {GATE_PLACEHOLDER: html.escape(d.holder.gate)} if d.holder.gate else {},
                )
                for d in chunk
            ]
            try:
                provider_id = await self._email.send(
                    OutgoingEmail(recipients, email.subject, email.html, email.text)
                )
            except ProviderRejectedError as rejected:
                chunk = await _drop_refused(session, chunk, rejected)
                continue
            except ProviderUnavailableError as unavailable:
                raise await _unavailable(session, chunk, unavailable) from unavailable
            await _sent(session, chunk, provider_id)
            return

    async def _send_sms(self, session: AsyncSession, group: list[_Delivery], body: str) -> None:
        group = await _claim(session, group, self._settings.evidence_window)
        in_flight = asyncio.Semaphore(SMS_IN_FLIGHT)
        callback = f"{self._settings.public_url}/v1/webhooks/twilio/status?message_id="

        async def one(delivery: _Delivery) -> str | Exception:
            async with in_flight:
                sms = OutgoingSms(delivery.address, body, callback + str(delivery.row.id))
                try:
                    return await self._sms.send(sms)
                except (ProviderRejectedError, ProviderUnavailableError) as error:
                    return error
                finally:
                    # A big group takes a while; the SDK throttles heartbeats itself.
                    activity.heartbeat()

        outcomes = await asyncio.gather(*(one(d) for d in group))
        unavailable: list[tuple[_Delivery, ProviderUnavailableError]] = []
        for delivery, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, str):
                await _sent(session, [delivery], outcome, commit=False)
            elif isinstance(outcome, ProviderRejectedError):
                await _refused(session, delivery, outcome)
            else:
                assert isinstance(outcome, ProviderUnavailableError)
                unavailable.append((delivery, outcome))
        await session.commit()
        if unavailable:
            # The others are settled; Temporal retries the page for these.
            raise await _unavailable(session, [d for d, _ in unavailable], unavailable[0][1])


async def _incident(session: AsyncSession, incident_id: str) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise ApplicationError(f"no incident {incident_id}", non_retryable=True)
    return incident


async def _still_active(session: AsyncSession, incident: Incident, now: datetime) -> bool:
    # Another transaction may have superseded it since this page began.
    await session.refresh(incident, ["status"])
    return incident.status == "active" and now <= incident.valid_until


def _groups(deliveries: list[_Delivery]) -> list[list[_Delivery]]:
    """One rendered body per channel, language, time zone and session; SMS also per gate
    (email gets each recipient's gate by substitution)."""
    grouped: dict[tuple[Any, ...], list[_Delivery]] = defaultdict(list)
    for d in deliveries:
        h = d.holder
        gate = h.gate if d.channel == "sms" else h.gate is not None
        grouped[(d.channel, h.locale, h.time_zone, h.session_id, gate)].append(d)
    return list(grouped.values())


def _channel(
    incident: Incident, holder: audience.HolderContext, suppressed: set[tuple[str, str]]
) -> tuple[str, str] | None:
    """The incident's first channel this fan can be reached on, with the address."""
    for channel in incident.channels:
        address = holder.email if channel == "email" else holder.phone
        if address and (channel, address) not in suppressed:
            return channel, address
    return None


async def _reserve_rows(
    session: AsyncSession,
    incident: Incident,
    holders: Sequence[audience.HolderContext],
    choices: dict[str, tuple[str, str] | None],
    now: datetime,
) -> dict[str, _Row]:
    """One ledger row per fan, decided on insert; a retry finds the rows it made before."""
    keys = {fan_id: incident_key(incident.id, fan_id) for fan_id in choices}
    locales = {h.fan_id: h.locale for h in holders}
    await insert_many_ignoring_conflict(
        session,
        Message.__table__,  # type: ignore[arg-type]
        [
            {
                "key": keys[fan_id],
                "fan_id": fan_id,
                "journey": "incident",
                "journey_version": 1,
                "step": incident.id,
                "message": incident.message,
                "channel": choice[0] if choice else incident.channels[0],
                "category": "urgent",
                "status": (MessageStatus.PENDING if choice else MessageStatus.SKIPPED).value,
                "reason": None if choice else "no_reachable_address",
                "locale": locales[fan_id],
                "decided_at": now,
                "deferral_count": 0,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
            for fan_id, choice in choices.items()
        ],
        ["key"],
    )
    await session.commit()
    found = await session.execute(
        select(Message.id, Message.fan_id, Message.status, Message.attempted_at).where(
            Message.key.in_(keys.values())
        )
    )
    return {row.fan_id: _Row(*row) for row in found}


async def _suppressed(
    session: AsyncSession, holders: Sequence[audience.HolderContext]
) -> set[tuple[str, str]]:
    addresses = [a for h in holders for a in (h.email, h.phone) if a]
    found = await session.execute(
        select(Suppression.channel, Suppression.address).where(Suppression.address.in_(addresses))
    )
    return {(channel, address) for channel, address in found}


async def _claim(
    session: AsyncSession, deliveries: list[_Delivery], in_doubt_for: timedelta
) -> list[_Delivery]:
    """Mark these rows as being sent now, and return the ones this attempt won.

    A page attempt that overran its heartbeat keeps running while Temporal starts the next
    one, so two attempts can hold the same page. The conditional UPDATE lets exactly one of
    them take each row: a row another attempt is sending right now (recently attempted) does
    not match, and the in-doubt check settles it on a later retry.
    """
    now = utcnow()
    claimable = or_(
        Message.status == MessageStatus.PENDING.value,
        and_(
            Message.status == MessageStatus.RESERVED.value,
            or_(Message.attempted_at.is_(None), Message.attempted_at <= now - in_doubt_for),
        ),
    )
    claimed = await session.scalars(
        update(Message)
        .where(Message.id.in_([d.row.id for d in deliveries]), claimable)
        .values(
            status=MessageStatus.RESERVED.value, attempted_at=now, channel=deliveries[0].channel
        )
        .returning(Message.id)
    )
    won = set(claimed)
    await session.commit()
    return [d for d in deliveries if d.row.id in won]


async def _sent(
    session: AsyncSession, deliveries: list[_Delivery], provider_id: str, commit: bool = True
) -> None:
    await session.execute(
        update(Message)
        .where(Message.id.in_([d.row.id for d in deliveries]))
        .values(status=MessageStatus.SENT.value, sent_at=utcnow(), provider_message_id=provider_id)
    )
    if commit:
        await session.commit()


async def _refused(
    session: AsyncSession, delivery: _Delivery, rejected: ProviderRejectedError
) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == delivery.row.id)
        .values(status=MessageStatus.FAILED.value, reason=rejected.reason[:200])
    )
    if rejected.suppress_address:
        await suppress_address(session, delivery.channel, delivery.address, rejected.reason)


async def _drop_refused(
    session: AsyncSession, chunk: list[_Delivery], rejected: ProviderRejectedError
) -> list[_Delivery]:
    """A batch refused for one recipient: fail that one, send the others again."""
    index = _personalization_index(rejected.field)
    if index is None or index >= len(chunk):
        for delivery in chunk:
            await _refused(session, delivery, rejected)
        await session.commit()
        return []
    await _refused(session, chunk[index], rejected)
    await session.commit()
    return chunk[:index] + chunk[index + 1 :]


def _personalization_index(field: str | None) -> int | None:
    parts = (field or "").split(".")
    return (
        int(parts[1])
        if len(parts) > 1 and parts[0] == "personalizations" and parts[1].isdigit()
        else None
    )


async def _unavailable(
    session: AsyncSession, deliveries: list[_Delivery], error: ProviderUnavailableError
) -> ApplicationError:
    if not error.maybe_accepted:
        await ledger.not_attempted(session, [d.row.id for d in deliveries])
    return ApplicationError(
        error.reason, type="ProviderUnavailable", next_retry_delay=error.retry_after
    )


async def _skip_unsent(
    session: AsyncSession, incident: Incident, ids: list[int], now: datetime
) -> None:
    """What a superseded or expired incident had not sent yet is skipped, with the reason."""
    if incident.status == "active" and now <= incident.valid_until:
        return
    reason = "expired" if incident.status == "active" else incident.status
    await session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status.in_([MessageStatus.PENDING.value]))
        .values(status=MessageStatus.SKIPPED.value, reason=reason)
    )
    await session.commit()


async def _tally(session: AsyncSession, ids: list[int]) -> IncidentTally:
    outcomes = await count_outcomes(session, Message.id.in_(ids))
    return IncidentTally(sent=outcomes.sent, failed=outcomes.failed, skipped=outcomes.skipped)
