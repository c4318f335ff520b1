"""Whether an incident may still send: checked at the time of each send, not of the page.

A page can run for a while (a big SMS group, a slow provider, retries), so the validity
window is compared with the clock when each message goes; the status is re-read as the
page writes to the ledger, since a newer incident may supersede this one meanwhile.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.db.models import Incident, utcnow


class Validity:
    def __init__(self, incident: Incident) -> None:
        # Plain values, not the ORM object: concurrent sends read them while a refresh runs.
        self._id = incident.id
        self._status = incident.status
        self._valid_until = incident.valid_until

    def open(self) -> bool:
        return self._status == "active" and utcnow() <= self._valid_until

    def why_closed(self) -> str:
        """The ledger's reason for what is not sent: "expired", or e.g. "superseded"."""
        return "expired" if self._status == "active" else self._status

    async def refresh(self, session: AsyncSession) -> None:
        status = await session.scalar(select(Incident.status).where(Incident.id == self._id))
        self._status = status or self._status
