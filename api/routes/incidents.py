"""Incidents: activate a library message for the holders of affected tickets, and watch it."""

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter
from sqlalchemy import select, update
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import SessionDep, TemporalDep
from api.problems import ProblemError
from api.schemas_events import IncidentRequest, IncidentResponse
from journeys.incidents import IncidentParameterError, validate_parameters
from relay.db.models import CompetitionSession, Incident, Message, Ticket, utcnow
from relay.db.outcomes import count_outcomes
from workflows.incident import IncidentInput, IncidentWorkflow, incident_workflow_id
from workflows.task_queues import BROADCAST_TASK_QUEUE

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


@router.post("", response_model=IncidentResponse, status_code=202)
async def activate(
    request: IncidentRequest, db: SessionDep, temporal: TemporalDep
) -> IncidentResponse:
    try:
        parameters = validate_parameters(request.message, request.parameters)
    except IncidentParameterError as error:
        raise ProblemError(422, str(error)) from None
    scope = request.scope.as_data()
    await _check_sessions_exist(db, scope.get("sessions", []))
    superseded = await _superseded(db, request.supersedes)
    incident = Incident(
        id=f"inc_{uuid.uuid4().hex[:16]}",
        message=request.message,
        parameters=parameters,
        scope=scope,
        channels=list(request.channels),
        valid_until=utcnow() + timedelta(minutes=request.valid_for_minutes),
        status="active",
        supersedes=request.supersedes,
    )
    db.add(incident)
    if superseded is not None:
        superseded.status, superseded.superseded_by = "superseded", incident.id
    await _update_ticketing_data(db, request.message, parameters, scope)
    await db.commit()
    if superseded is not None:
        await _stop(temporal, superseded.id)
    await temporal.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(incident.id),
        id=incident_workflow_id(incident.id),
        task_queue=BROADCAST_TASK_QUEUE,
        memo={"message": request.message},
    )
    return await _response(db, incident)


@router.get("/{incident_id}", response_model=IncidentResponse)
async def progress(incident_id: str, db: SessionDep) -> IncidentResponse:
    incident = await db.get(Incident, incident_id)
    if incident is None:
        raise ProblemError(404, f"no incident with id {incident_id!r}")
    return await _response(db, incident)


async def _check_sessions_exist(db: SessionDep, session_ids: list[str]) -> None:
    known = set(
        await db.scalars(
            select(CompetitionSession.id).where(CompetitionSession.id.in_(session_ids))
        )
    )
    unknown = sorted(set(session_ids) - known)
    if unknown:
        raise ProblemError(422, f"unknown sessions in scope: {', '.join(unknown[:10])}")


async def _superseded(db: SessionDep, incident_id: str | None) -> Incident | None:
    if incident_id is None:
        return None
    earlier = await db.get(Incident, incident_id)
    if earlier is None:
        raise ProblemError(422, f"supersedes names no incident: {incident_id!r}")
    if earlier.status != "active":
        raise ProblemError(409, f"incident {incident_id} is already {earlier.status}")
    return earlier


async def _update_ticketing_data(
    db: SessionDep, message: str, parameters: dict[str, object], scope: dict[str, object]
) -> None:
    """A gate change or a new time is news for later messages too: record it in the data."""
    sessions = list(scope.get("sessions", []))  # type: ignore[call-overload]
    if not sessions:
        return
    if message == "incident_gate_change":
        tickets = update(Ticket).where(Ticket.session_id.in_(sessions))
        if "from_gate" in parameters:
            tickets = tickets.where(Ticket.gate == parameters["from_gate"])
        await db.execute(tickets.values(gate=parameters["to_gate"], updated_at=utcnow()))
    elif message == "incident_session_rescheduled":
        new_start = datetime.fromisoformat(str(parameters["new_start"]))
        for competition in await db.scalars(
            select(CompetitionSession).where(CompetitionSession.id.in_(sessions))
        ):
            duration = competition.ends_at - competition.starts_at
            competition.starts_at, competition.ends_at = new_start, new_start + duration


async def _stop(temporal: Client, incident_id: str) -> None:
    try:
        await temporal.get_workflow_handle(incident_workflow_id(incident_id)).signal(
            IncidentWorkflow.stop
        )
    except RPCError:
        pass  # already finished: nothing left to stop


async def _response(db: SessionDep, incident: Incident) -> IncidentResponse:
    outcomes = await count_outcomes(db, Message.journey == "incident", Message.step == incident.id)
    return IncidentResponse(
        id=incident.id,
        message=incident.message,
        status=incident.status,
        channels=incident.channels,
        valid_until=incident.valid_until,
        supersedes=incident.supersedes,
        superseded_by=incident.superseded_by,
        audience=incident.audience,
        sent=outcomes.sent,
        failed=outcomes.failed,
        skipped=outcomes.skipped,
        pending=outcomes.pending,
        created_at=incident.created_at,
    )
