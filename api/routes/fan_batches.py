"""Fans in batches: up to 10,000 upserts a request, each row as `POST /v1/fans` takes it."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.batches import RowError, batch_body, first_seen_at, validate_rows
from api.deps import SessionDep
from api.fan_upsert import upsert_fans
from api.routes.fans import LOCALE_REQUIRED
from api.schemas import FanRequest

router = APIRouter(prefix="/v1/fans", tags=["fans"])


FanRows = Annotated[list[dict[str, Any]], batch_body("POST /v1/fans")]


class FanRowResponse(BaseModel):
    index: int
    outcome: Literal["created", "updated", "rejected"]
    fan_id: str | None = None
    errors: list[RowError] = []


class FanBatchResponse(BaseModel):
    created: int
    updated: int
    rejected: int
    results: list[FanRowResponse]


@router.post("/batch", response_model=FanBatchResponse)
async def upsert_fan_batch(rows: FanRows, session: SessionDep) -> FanBatchResponse:
    """Upsert by `external_id`, row by row as `POST /v1/fans` would, in one transaction:
    every valid row is written, and each invalid one is answered with its index and field."""
    validated = validate_rows(FanRequest, rows)
    for index, first in first_seen_at(validated, "external_id").items():
        # Which of the two did the client mean? Only the first is written.
        validated[index].reject("external_id", f"the same external_id as row {first}")
    valid = [row for row in validated if row.valid]
    outcomes = await upsert_fans(session, [row.request for row in valid if row.request])
    await session.commit()
    results = [
        FanRowResponse(index=row.index, outcome="rejected", errors=row.errors) for row in validated
    ]
    for row, outcome in zip(valid, outcomes, strict=True):
        if outcome is None:
            results[row.index].errors.append(RowError(field="locale", message=LOCALE_REQUIRED))
        else:
            results[row.index] = FanRowResponse(
                index=row.index,
                outcome="created" if outcome.created else "updated",
                fan_id=outcome.fan_id,
            )
    counts = {
        outcome: sum(r.outcome == outcome for r in results)
        for outcome in ("created", "updated", "rejected")
    }
    return FanBatchResponse(**counts, results=results)
