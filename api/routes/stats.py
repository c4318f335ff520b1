"""Feedback for product owners: what each journey step's messages did."""

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Integer, func, select
from sqlalchemy.sql.elements import ColumnElement

from api.deps import SessionDep
from api.schemas import StepStatsResponse
from relay.db.models import Message, MessageStatus

router = APIRouter(prefix="/v1/stats", tags=["stats"])
JourneyName = Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f]+$")]


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(func.cast(condition, Integer))


@router.get("", response_model=list[StepStatsResponse])
async def stats(session: SessionDep, journey: JourneyName = None) -> list[StepStatsResponse]:
    group = (Message.journey, Message.step, Message.message)
    scope = [Message.journey == journey] if journey else []
    totals = await session.execute(
        select(
            *group,
            _count(Message.sent_at.is_not(None)),
            _count(Message.delivered_at.is_not(None)),
            _count(Message.opened_at.is_not(None)),
            _count(Message.clicked_at.is_not(None)),
            _count(Message.bounced_at.is_not(None)),
            _count(Message.unsubscribed_at.is_not(None)),
        )
        .where(*scope)
        .group_by(*group)
        .order_by(*group)
    )
    reasons = await _reasons(session, scope)
    result = []
    for (
        journey_name,
        step,
        message,
        sent,
        delivered,
        opened,
        clicked,
        bounced,
        unsubscribed,
    ) in totals:
        key = (journey_name, step, message)
        base = delivered or sent
        result.append(
            StepStatsResponse(
                journey=journey_name,
                step=step,
                message=message,
                sent=sent or 0,
                delivered=delivered or 0,
                opened=opened or 0,
                clicked=clicked or 0,
                bounced=bounced or 0,
                unsubscribed=unsubscribed or 0,
                deferred=reasons["deferred"].get(key, {}),
                skipped=reasons["skipped"].get(key, {}),
                failed=reasons["failed"].get(key, {}),
                open_rate=round((opened or 0) / base, 4) if base else None,
                click_rate=round((clicked or 0) / base, 4) if base else None,
            )
        )
    return result


async def _reasons(
    session: SessionDep, scope: list[Any]
) -> dict[str, dict[tuple[str, str, str], dict[str, int]]]:
    """Per step, how many were deferred (ever), skipped and failed, by reason."""
    group = (Message.journey, Message.step, Message.message)
    found: dict[str, dict[tuple[str, str, str], dict[str, int]]] = {
        kind: defaultdict(dict) for kind in ("deferred", "skipped", "failed")
    }
    deferred = await session.execute(
        select(*group, Message.deferral_reason, func.count())
        .where(Message.deferral_count > 0, *scope)
        .group_by(*group, Message.deferral_reason)
    )
    for journey, step, message, reason, count in deferred:
        found["deferred"][(journey, step, message)][reason or "unknown"] = count
    settled = await session.execute(
        select(*group, Message.status, Message.reason, func.count())
        .where(Message.status.in_([MessageStatus.SKIPPED, MessageStatus.FAILED]), *scope)
        .group_by(*group, Message.status, Message.reason)
    )
    for journey, step, message, status, reason, count in settled:
        found[status][(journey, step, message)][reason or "unknown"] = count
    return found
