"""An incident's email: one rendered body for up to 1,000 recipients a SendGrid request.

Each request's rows are claimed just before it and settled as soon as it is answered. A
request whose answer never came (the worker died, the connection dropped) leaves all its
rows in doubt until SendGrid's `processed` events prove them sent, or the evidence window
passes: the blast radius of one crash is at most one request in flight per page.
"""

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from activities.incidents.claims import Delivery, Outcome, claim, settle
from activities.incidents.rendering import gate_substitutions
from activities.incidents.validity import Validity
from activities.providers.email import (
    MAX_PERSONALIZATIONS,
    OutgoingEmail,
    Recipient,
    SendGridEmailProvider,
)
from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from journeys.rendering import RenderedEmail
from relay.db.models import utcnow


async def send_email_group(
    session: AsyncSession,
    provider: SendGridEmailProvider,
    validity: Validity,
    group: Sequence[Delivery],
    email: RenderedEmail,
    incident_id: str,
    in_doubt_for: timedelta,
) -> list[ProviderUnavailableError]:
    """Send to the group; return the error of a request SendGrid certainly did not take
    (the rest of the group waits for the page's retry)."""
    for start in range(0, len(group), MAX_PERSONALIZATIONS):
        await validity.refresh(session)
        if not validity.open():
            break
        chunk = await claim(session, group[start : start + MAX_PERSONALIZATIONS], in_doubt_for)
        error = await _send_chunk(session, provider, chunk, email, incident_id)
        if error is not None:
            return [error] if not error.maybe_accepted else []
    return []


async def _send_chunk(
    session: AsyncSession,
    provider: SendGridEmailProvider,
    chunk: list[Delivery],
    email: RenderedEmail,
    incident_id: str,
) -> ProviderUnavailableError | None:
    while chunk:
        recipients = [
            Recipient(
                d.address,
                {"relay_message_id": str(d.row.id), "incident": incident_id},
                gate_substitutions(d.holder.gate),
            )
            for d in chunk
        ]
        started_at = utcnow()
        try:
            provider_id = await provider.send(
                OutgoingEmail(recipients, email.subject, email.html, email.text)
            )
        except ProviderRejectedError as rejected:
            chunk = await _drop_refused(session, chunk, rejected)
            continue
        except ProviderUnavailableError as unavailable:
            await settle(
                session, [Outcome(d, error=unavailable, started_at=started_at) for d in chunk]
            )
            return unavailable
        await settle(session, [Outcome(d, provider_id=provider_id) for d in chunk])
        return None
    return None


async def _drop_refused(
    session: AsyncSession, chunk: list[Delivery], rejected: ProviderRejectedError
) -> list[Delivery]:
    """A batch refused for one recipient: fail that one, send the others again."""
    index = _personalization_index(rejected.field)
    if index is None or index >= len(chunk):
        await settle(session, [Outcome(d, error=rejected) for d in chunk])
        return []
    await settle(session, [Outcome(chunk[index], error=rejected)])
    return chunk[:index] + chunk[index + 1 :]


def _personalization_index(field: str | None) -> int | None:
    parts = (field or "").split(".")
    return (
        int(parts[1])
        if len(parts) > 1 and parts[0] == "personalizations" and parts[1].isdigit()
        else None
    )
