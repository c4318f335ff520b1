"""Helpers for incident tests: a session full of ticket holders, and waiting for a broadcast."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.db.models import Fan, Incident, utcnow
from tests.conftest import unique_phone

LOCALES = ("fr", "en", "ja")
TIME_ZONES = {"fr": "Europe/Paris", "en": "Europe/London", "ja": "Asia/Tokyo"}


@dataclass(frozen=True)
class Holder:
    fan_id: str
    email: str | None
    phone: str | None
    locale: str


async def add_holders(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    session_ids: list[str],
    *,
    gate: str = "A",
    sms_only_every: int = 0,
    locales: tuple[str, ...] = LOCALES,
) -> list[Holder]:
    """Fans in `locales` (three by default) holding a ticket for each of `session_ids`."""
    tag = uuid.uuid4().hex[:8]
    fans = []
    for n in range(count):
        locale = locales[n % len(locales)]
        sms_only = sms_only_every and n % sms_only_every == 0
        fans.append(
            Fan(
                external_id=f"ext-{tag}-{n}",
                email=None if sms_only else f"holder-{tag}-{n}@example.org",
                phone=unique_phone(),
                locale=locale,
                time_zone=TIME_ZONES[locale],
                interests=[],
            )
        )
    async with sessions() as db:
        db.add_all(fans)
        await db.commit()
    tickets = [
        {"id": f"t-{tag}-{n}-{s}", "fan_id": fan.id, "session_id": session_id, "gate": gate}
        for n, fan in enumerate(fans)
        for s, session_id in enumerate(session_ids)
    ]
    response = await api.post("/v1/tickets", json=tickets)
    assert response.status_code == 200, response.text
    return [Holder(f.id, f.email, f.phone, f.locale) for f in fans]


async def add_session(api: httpx.AsyncClient, **overrides: Any) -> str:
    session_id = f"ATH-{uuid.uuid4().hex[:8]}"
    body = {
        "id": session_id,
        "sport": "Athletics",
        "event_name": "Men's 100m Final",
        "venue": f"Stade {session_id}",
        "venue_time_zone": "Europe/Paris",
        "starts_at": "2028-07-30T21:00:00+02:00",
        "ends_at": "2028-07-30T23:00:00+02:00",
        "gates": ["A", "B", "K"],
        **overrides,
    }
    response = await api.put("/v1/sessions", json=[body])
    assert response.status_code == 200, response.text
    return session_id


async def add_incident(
    sessions: async_sessionmaker[AsyncSession],
    session_id: str,
    channels: list[str],
    valid_for: timedelta = timedelta(hours=1),
) -> str:
    """An active gate change for the holders of `session_id`, without a workflow: for tests
    that run its page activity themselves."""
    incident_id = f"inc_{uuid.uuid4().hex[:16]}"
    async with sessions() as db:
        db.add(
            Incident(
                id=incident_id,
                message="incident_gate_change",
                parameters={"to_gate": "K", "from_gate": "A"},
                scope={"sessions": [session_id]},
                channels=channels,
                valid_until=utcnow() + valid_for,
                status="active",
            )
        )
        await db.commit()
    return incident_id


# A page from the start of the audience to past every (locale, time zone, fan id).
WHOLE_AUDIENCE = ("~", "~", "~")


async def wait_until_done(
    api: httpx.AsyncClient, incident_id: str, seconds: float = 60
) -> dict[str, Any]:
    for _ in range(int(seconds * 10)):
        progress: dict[str, Any] = (await api.get(f"/v1/incidents/{incident_id}")).json()
        if progress["status"] != "active" and progress["pending"] == 0:
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"incident {incident_id} did not finish: {progress}")
