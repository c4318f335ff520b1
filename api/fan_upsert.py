"""Upsert many fans at once, set-based: the batch API and `relay fans import` share it.

Each row changes only the fields it sends, as `POST /v1/fans` does (a test compares the rows
both paths make). Rows go into a temporary staging table (by COPY on PostgreSQL), then one
UPDATE changes the fans that exist, one INSERT adds the new ones and one upsert records the
consents: a handful of statements for thousands of fans, instead of several per fan.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    MetaData,
    String,
    Table,
    case,
    delete,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from api.routes.fans import DEFAULT_TIME_ZONE
from api.schemas import FanRequest
from relay.db.dialect import copy_rows, dialect_insert
from relay.db.models import Consent, Fan, new_fan_id, utcnow

_FAN = cast(Table, Fan.__table__)
_CONSENT = cast(Table, Consent.__table__)
PROFILE_FIELDS = ("email", "phone", "first_name", "locale", "country", "time_zone", "interests")

# Temporary, so per connection and never in a migration; emptied at each commit on
# PostgreSQL (a DELETE would leave dead rows no autovacuum ever visits in a temp table).
# No index: so SQLite scans the batch and looks each fan up, not the other way round (an
# index here made it scan every fan for each batch).
_staging = MetaData()
FAN_STAGING = Table(
    "fan_staging",
    _staging,
    Column("external_id", String(200)),
    # What a new fan gets: its fresh id, the fields sent, the defaults for the others.
    Column("new_id", String(40)),
    Column("email", String(320)),
    Column("phone", String(20)),
    Column("first_name", String(100)),
    Column("locale", String(10)),
    Column("country", String(2)),
    Column("time_zone", String(64)),
    Column("interests", JSON),
    # What an existing fan gets: only the fields the row sends.
    *(Column(f"sends_{field}", Boolean) for field in PROFILE_FIELDS),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
CONSENT_STAGING = Table(
    "fan_consent_staging",
    _staging,
    Column("external_id", String(200)),
    Column("purpose", String(32)),
    Column("granted", Boolean),
    Column("source", String(100)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)


@dataclass(frozen=True)
class UpsertedFan:
    fan_id: str
    created: bool


async def upsert_fans(
    session: AsyncSession, requests: Sequence[FanRequest]
) -> list[UpsertedFan | None]:
    """Per request, in order: the fan and whether it is new; None for a request naming a
    new fan without a locale, for which nothing is written. External ids must be distinct.
    The caller commits."""
    now = utcnow()
    await _stage(session, requests)
    updated = await _update_existing(session, now)
    created = await _insert_new(session, now)
    written = updated.keys() | created.keys()
    missing = [r.external_id for r in requests if r.external_id not in written]
    if missing:
        # Created by another writer between the two statements, or new without a locale.
        updated |= await _update_existing(session, now, only=missing)
    await _upsert_consents(session, now)
    results: list[UpsertedFan | None] = []
    for request in requests:
        if request.external_id in created:
            results.append(UpsertedFan(created[request.external_id], created=True))
        elif request.external_id in updated:
            results.append(UpsertedFan(updated[request.external_id], created=False))
        else:
            results.append(None)
    return results


async def _stage(session: AsyncSession, requests: Sequence[FanRequest]) -> None:
    for table in (FAN_STAGING, CONSENT_STAGING):
        await session.execute(CreateTable(table, if_not_exists=True))
        await session.execute(delete(table))
    await copy_rows(session, FAN_STAGING, [_fan_row(r) for r in requests])
    consents = [
        {
            "external_id": r.external_id,
            "purpose": purpose.value,
            "granted": consent.granted,
            "source": consent.source,
        }
        for r in requests
        for purpose, consent in (r.consents or {}).items()
    ]
    await copy_rows(session, CONSENT_STAGING, consents)


def _fan_row(request: FanRequest) -> dict[str, Any]:
    sent = request.model_fields_set
    return {
        "external_id": request.external_id,
        "new_id": new_fan_id(),
        "email": request.email,
        "phone": request.phone,
        "first_name": request.first_name,
        "locale": request.locale,
        "country": request.country,
        "time_zone": request.time_zone or DEFAULT_TIME_ZONE,
        "interests": request.interests or [],
        **{f"sends_{field}": field in sent for field in PROFILE_FIELDS},
    }


async def _update_existing(
    session: AsyncSession, now: datetime, only: list[str] | None = None
) -> dict[str, str]:
    fan, staged = _FAN, FAN_STAGING
    statement = (
        update(fan)
        .where(fan.c.external_id == staged.c.external_id)
        .values(
            {
                field: case((staged.c[f"sends_{field}"], staged.c[field]), else_=fan.c[field])
                for field in PROFILE_FIELDS
            }
            | {"updated_at": now}
        )
        .returning(fan.c.external_id, fan.c.id)
    )
    if only is not None:
        statement = statement.where(staged.c.external_id.in_(only))
    return {external_id: fan_id for external_id, fan_id in await session.execute(statement)}


async def _insert_new(session: AsyncSession, now: datetime) -> dict[str, str]:
    fan, staged = _FAN, FAN_STAGING
    stamp = literal(now, fan.c.created_at.type)
    new_fans = select(
        staged.c.new_id,
        staged.c.external_id,
        *(staged.c[field] for field in PROFILE_FIELDS),
        stamp,
        stamp,
    ).where(staged.c.locale.is_not(None))
    statement = (
        dialect_insert(session)(fan)
        .from_select(["id", "external_id", *PROFILE_FIELDS, "created_at", "updated_at"], new_fans)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(fan.c.external_id, fan.c.id)
    )
    return {external_id: fan_id for external_id, fan_id in await session.execute(statement)}


async def _upsert_consents(session: AsyncSession, now: datetime) -> None:
    """As relay.db.consents.record_consent: the time moves only when the word changes."""
    fan, consent, staged = _FAN, _CONSENT, CONSENT_STAGING
    words = select(
        fan.c.id,
        staged.c.purpose,
        staged.c.granted,
        staged.c.source,
        literal(now, consent.c.recorded_at.type),
    ).where(fan.c.external_id == staged.c.external_id)
    statement = dialect_insert(session)(consent).from_select(
        ["fan_id", "purpose", "granted", "source", "recorded_at"], words
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["fan_id", "purpose"],
            set_={
                "granted": excluded.granted,
                "source": excluded.source,
                "recorded_at": excluded.recorded_at,
            },
            where=or_(consent.c.granted != excluded.granted, consent.c.source != excluded.source),
        )
    )
