"""Fans: upsert by external id, read, and read their message ledger."""

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.deps import SessionDep
from api.problems import ProblemError
from api.schemas import (
    ConsentResponse,
    FanRequest,
    FanResponse,
    FanUpdateRequest,
    MessageResponse,
    PathId,
)
from journeys.locales import residence_zone
from relay.db.consents import record_consent
from relay.db.dialect import insert_ignoring_conflict
from relay.db.models import Fan, Message, new_fan_id, utcnow

router = APIRouter(prefix="/v1/fans", tags=["fans"])

# The edition's home time zone, for fans who do not say theirs.
DEFAULT_TIME_ZONE = "Europe/Paris"
LOCALE_REQUIRED = "locale is required to create a fan (one of the nine locales)"
_PROFILE_FIELDS = frozenset(
    ("email", "phone", "first_name", "locale", "country", "time_zone", "interests")
)


@router.post("", response_model=FanResponse, responses={201: {"model": FanResponse}})
async def upsert_fan(request: FanRequest, session: SessionDep, response: Response) -> FanResponse:
    fan = await session.scalar(select(Fan).where(Fan.external_id == request.external_id))
    if fan is None:
        fan = await _create(session, request)
        response.status_code = 201
    await _apply(session, fan, request)
    return fan_response(fan)


@router.patch("/{fan_id}", response_model=FanResponse)
async def update_fan(fan_id: PathId, request: FanUpdateRequest, session: SessionDep) -> FanResponse:
    """Change some of a fan's fields or consents; the next send sees the change."""
    fan = await load_fan(session, fan_id)
    await _apply(session, fan, request)
    return fan_response(fan)


async def _apply(session: SessionDep, fan: Fan, request: FanUpdateRequest) -> None:
    for field in _PROFILE_FIELDS & request.model_fields_set:
        setattr(fan, field, getattr(request, field))
    for purpose, consent in (request.consents or {}).items():
        record_consent(fan, purpose.value, consent.granted, consent.source)
    fan.updated_at = utcnow()
    await session.commit()


async def _create(session: SessionDep, request: FanRequest) -> Fan:
    if request.locale is None:
        raise ProblemError(422, LOCALE_REQUIRED)
    # Insert-or-ignore, so two concurrent first upserts of one fan both succeed.
    await insert_ignoring_conflict(
        session,
        Fan.__table__,  # type: ignore[arg-type]
        {
            "id": new_fan_id(),
            "external_id": request.external_id,
            "locale": request.locale,
            "time_zone": request.time_zone or DEFAULT_TIME_ZONE,
            "interests": [],
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        ["external_id"],
    )
    fan = await session.scalar(select(Fan).where(Fan.external_id == request.external_id))
    assert fan is not None
    return fan


@router.get("/{fan_id}", response_model=FanResponse)
async def get_fan(fan_id: PathId, session: SessionDep) -> FanResponse:
    return fan_response(await load_fan(session, fan_id))


@router.get("/{fan_id}/messages", response_model=list[MessageResponse])
async def list_fan_messages(fan_id: PathId, session: SessionDep) -> list[MessageResponse]:
    await load_fan(session, fan_id)
    rows = await session.scalars(
        select(Message).where(Message.fan_id == fan_id).order_by(Message.id.desc())
    )
    return [MessageResponse.model_validate(row, from_attributes=True) for row in rows]


async def load_fan(session: SessionDep, fan_id: str) -> Fan:
    fan = await session.get(Fan, fan_id)
    if fan is None:
        raise ProblemError(404, f"no fan with id {fan_id!r}; create one with POST /v1/fans")
    return fan


def fan_response(fan: Fan) -> FanResponse:
    return FanResponse(
        id=fan.id,
        external_id=fan.external_id,
        email=fan.email,
        phone=fan.phone,
        first_name=fan.first_name,
        locale=fan.locale,
        country=fan.country,
        zone=residence_zone(fan.country),
        time_zone=fan.time_zone,
        interests=list(fan.interests),
        consents={
            c.purpose: ConsentResponse(
                granted=c.granted, source=c.source, recorded_at=c.recorded_at
            )
            for c in fan.consents
        },
        created_at=fan.created_at,
        updated_at=fan.updated_at,
    )
