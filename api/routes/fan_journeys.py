"""GET /v1/fans/{id}/journeys: what an operator sees in the Temporal UI, for one fan."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from api.deps import SessionDep, TemporalDep
from api.routes.fans import load_fan
from api.schemas import PathId
from relay import search_attributes as sa
from workflows.journey import JourneyWorkflow

router = APIRouter(prefix="/v1/fans", tags=["fans"])


class FanJourneyResponse(BaseModel):
    workflow_id: str
    journey: str | None
    version: int | None
    status: str
    step: str | None
    waiting_until: datetime | None = None
    waiting_for: str | None = None
    messages_sent: int | None = None


@router.get("/{fan_id}/journeys", response_model=list[FanJourneyResponse])
async def fan_journeys(
    fan_id: PathId, db: SessionDep, temporal: TemporalDep
) -> list[FanJourneyResponse]:
    await load_fan(db, fan_id)
    found = []
    # Fan ids are pseudonymous and quote-free, so they are safe inside the visibility query.
    async for run in temporal.list_workflows(
        f'FanId = "{fan_id}" AND WorkflowType = "JourneyWorkflow"'
    ):
        attributes = run.typed_search_attributes
        entry = FanJourneyResponse(
            workflow_id=run.id,
            journey=attributes.get(sa.JOURNEY),
            version=attributes.get(sa.JOURNEY_VERSION),
            status=run.status.name.lower() if run.status else "unknown",
            step=attributes.get(sa.JOURNEY_STEP),
        )
        if run.status == WorkflowExecutionStatus.RUNNING:
            try:
                state = await temporal.get_workflow_handle(run.id).query(JourneyWorkflow.state)
            except RPCError:
                pass  # it just ended: the listing says enough
            else:
                entry.step, entry.waiting_until = state.step, state.waiting_until
                entry.waiting_for, entry.messages_sent = state.waiting_for, state.messages_sent
        found.append(entry)
    return found
