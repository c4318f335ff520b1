"""Incidents: activate a library message for the holders of affected tickets, and watch it."""

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import SessionDep, TemporalDep
from api.problems import ProblemError
from api.schemas import PathId
from api.schemas_events import IncidentRequest, IncidentResponse
from journeys.incidents import IncidentParameterError, validate_parameters
from relay.db.models import CompetitionSession, Incident, Message, Ticket, utcnow
from relay.db.outcomes import count_outcomes
from relay.task_queues import BROADCAST_TASK_QUEUE
from workflows.incident import IncidentInput, IncidentWorkflow, incident_workflow_id

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
# An operator waits for the answer: better a clear 503 than a hanging terminal.
START_TIMEOUT = timedelta(seconds=5)


@router.post("", response_model=IncidentResponse, status_code=202)
async def activate(
    request: IncidentRequest,
    db: SessionDep,
    temporal: TemporalDep,
    idempotency_key: Annotated[
        str | None, Header(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> IncidentResponse:
    """Activate an incident; with an `Idempotency-Key`, a retry has the first one's effect."""
    try:
        parameters = validate_parameters(request.message, request.parameters)
    except IncidentParameterError as error:
        raise ProblemError(422, str(error)) from None
    fingerprint = _fingerprint(request)
    incident_id = _incident_id(idempotency_key)
    if idempotency_key is not None:
        earlier = await db.get(Incident, incident_id)
        if earlier is not None:
            return await _replay(db, temporal, earlier, fingerprint)
    scope = request.scope.as_data()
    await _check_sessions_exist(db, scope.get("sessions", []))
    superseded = await _superseded(db, request.supersedes)
    incident = Incident(
        id=incident_id,
        message=request.message,
        parameters=parameters,
        scope=scope,
        channels=list(request.channels),
        valid_until=utcnow() + timedelta(minutes=request.valid_for_minutes),
        status="active",
        supersedes=request.supersedes,
        request_hash=fingerprint,
    )
    db.add(incident)
    if superseded is not None:
        superseded.status, superseded.superseded_by = "superseded", incident.id
    await _update_ticketing_data(db, request.message, parameters, scope)
    try:
        await db.commit()
    except IntegrityError:
        # The same key, twice at once: the other request wrote it first.
        await db.rollback()
        earlier = await db.get(Incident, incident_id)
        assert earlier is not None
        return await _replay(db, temporal, earlier, fingerprint)
    # Committed before the start, so the broadcast always finds its incident; a start that
    # fails takes the incident back out, so no incident is left that no workflow runs.
    if not await _start_broadcast(temporal, incident):
        await _withdraw(db, incident, superseded)
        raise ProblemError(
            503,
            "Temporal is unreachable: the incident was not activated. Retry, with the same "
            "Idempotency-Key",
            {"Retry-After": "5"},
        )
    if superseded is not None:
        await _stop(temporal, superseded.id)
    return await _response(db, incident)


@router.get("/{incident_id}", response_model=IncidentResponse)
async def progress(incident_id: PathId, db: SessionDep) -> IncidentResponse:
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


def _incident_id(idempotency_key: str | None) -> str:
    # Derived from the key, so a retry names the same incident and the same workflow.
    if idempotency_key is None:
        return f"inc_{uuid.uuid4().hex[:16]}"
    return f"inc_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"


def _fingerprint(request: IncidentRequest) -> str:
    body = request.model_dump(mode="json", by_alias=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def _replay(
    db: SessionDep, temporal: Client, earlier: Incident, fingerprint: str
) -> IncidentResponse:
    """The same key again: the same incident if the request is the same, else a 422."""
    if earlier.request_hash != fingerprint:
        raise ProblemError(
            422, "this Idempotency-Key was used for a different request: use a new key"
        )
    if earlier.status == "active" and not await _start_broadcast(temporal, earlier):
        raise ProblemError(503, "Temporal is unreachable: retry later", {"Retry-After": "5"})
    return await _response(db, earlier)


async def _start_broadcast(temporal: Client, incident: Incident) -> bool:
    """Start the incident's workflow, or find it started; false when Temporal is unreachable."""
    try:
        await temporal.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(incident.id),
            id=incident_workflow_id(incident.id),
            task_queue=BROADCAST_TASK_QUEUE,
            memo={"message": incident.message},
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            rpc_timeout=START_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        pass  # it ran, and finished: it is not run twice
    except RPCError:
        return False
    return True


async def _withdraw(db: SessionDep, incident: Incident, superseded: Incident | None) -> None:
    """Undo an activation whose broadcast could not start (ticketing data stays: it is true,
    and applying it again on a retry changes nothing)."""
    await db.delete(incident)
    if superseded is not None:
        superseded.status, superseded.superseded_by = "active", None
    await db.commit()


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
