"""An incident's SMS: many on Twilio's async client at once, each settled as it is answered.

Rows are claimed a slice at a time, just before they go, so an unanswered call's attempt
time is close to its real start. Answers are written to the ledger as they arrive: a single
writer commits whatever answers came in while its previous commit ran (a group commit, with
no timer), so a worker killed mid-group can lose only the answers of the commit in progress,
and no message Twilio answered is ever sent again.
"""

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.incidents.claims import Delivery, Outcome, claim, settle
from activities.incidents.validity import Validity
from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from activities.providers.sms import OutgoingSms, TwilioSmsProvider
from relay.db.models import utcnow

SMS_IN_FLIGHT = 50
CLAIM_SLICE = 500


async def send_sms_group(
    session: AsyncSession,
    provider: TwilioSmsProvider,
    validity: Validity,
    group: Sequence[Delivery],
    body: str,
    status_callback: str,
    in_doubt_for: timedelta,
) -> list[ProviderUnavailableError]:
    """Send to the group; return the errors of sends Twilio certainly did not take."""
    not_taken: list[ProviderUnavailableError] = []
    for start in range(0, len(group), CLAIM_SLICE):
        if not validity.open():
            break
        claimed = await claim(session, group[start : start + CLAIM_SLICE], in_doubt_for)
        not_taken += await _send_slice(session, provider, validity, claimed, body, status_callback)
    return not_taken


async def _send_slice(
    session: AsyncSession,
    provider: TwilioSmsProvider,
    validity: Validity,
    claimed: Sequence[Delivery],
    body: str,
    status_callback: str,
) -> list[ProviderUnavailableError]:
    answers: asyncio.Queue[Outcome] = asyncio.Queue()
    in_flight = asyncio.Semaphore(SMS_IN_FLIGHT)

    async def send(delivery: Delivery) -> None:
        async with in_flight:
            answers.put_nowait(await _send_one(provider, validity, delivery, body, status_callback))

    not_taken: list[ProviderUnavailableError] = []
    async with asyncio.TaskGroup() as senders:
        for delivery in claimed:
            senders.create_task(send(delivery))
        waiting = len(claimed)
        while waiting:
            batch = [await answers.get()]
            while not answers.empty():
                batch.append(answers.get_nowait())
            await settle(session, batch)
            # Settled before the heartbeat: what Temporal sees as progress is on disk.
            activity.heartbeat()
            await validity.refresh(session)
            waiting -= len(batch)
            not_taken += [
                o.error
                for o in batch
                if isinstance(o.error, ProviderUnavailableError) and not o.error.maybe_accepted
            ]
    return not_taken


async def _send_one(
    provider: TwilioSmsProvider,
    validity: Validity,
    delivery: Delivery,
    body: str,
    status_callback: str,
) -> Outcome:
    if not validity.open():
        return Outcome(delivery, skipped=validity.why_closed())
    started_at = utcnow()
    sms = OutgoingSms(delivery.address, body, status_callback + str(delivery.row.id))
    try:
        provider_id = await provider.send(sms)
    except (ProviderRejectedError, ProviderUnavailableError) as error:
        return Outcome(delivery, error=error, started_at=started_at)
    return Outcome(delivery, provider_id=provider_id)
