"""Enrollments: start a fan on a journey, once."""

from fastapi import APIRouter, Response
from temporalio.client import WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import SessionDep, TemporalDep
from api.problems import ProblemError
from api.routes.fans import load_fan
from api.schemas import EnrollmentRequest, EnrollmentResponse, PathId
from journeys.registry import UnknownJourneyError, latest_journey
from relay import search_attributes as sa
from runs.client import start_journey
from runs.contracts import journey_workflow_id
from workflows.journey import JourneyWorkflow

router = APIRouter(prefix="/v1/journeys", tags=["enrollments"])


@router.post(
    "/{journey}/enrollments",
    response_model=EnrollmentResponse,
    responses={201: {"model": EnrollmentResponse}},
)
async def enroll(
    journey: PathId,
    request: EnrollmentRequest,
    session: SessionDep,
    temporal: TemporalDep,
    response: Response,
) -> EnrollmentResponse:
    try:
        definition = latest_journey(journey)
    except UnknownJourneyError as error:
        raise ProblemError(404, str(error)) from None
    try:
        await load_fan(session, request.fan_id)
    except ProblemError as error:
        raise ProblemError(422, str(error.detail)) from None
    workflow_id = journey_workflow_id(journey, request.fan_id)
    try:
        handle = await start_journey(temporal, definition, request.fan_id)
    except WorkflowAlreadyStartedError:
        return await _existing_enrollment(temporal.get_workflow_handle(workflow_id), request)
    response.status_code = 201
    return EnrollmentResponse(
        fan_id=request.fan_id,
        journey=journey,
        version=definition.version,
        workflow_id=workflow_id,
        run_id=handle.result_run_id,
        outcome="started",
        status="running",
    )


async def _existing_enrollment(
    handle: WorkflowHandle[JourneyWorkflow, object], request: EnrollmentRequest
) -> EnrollmentResponse:
    description = await handle.describe()
    attributes = description.typed_search_attributes
    return EnrollmentResponse(
        fan_id=request.fan_id,
        journey=attributes.get(sa.JOURNEY) or "",
        version=attributes.get(sa.JOURNEY_VERSION) or 0,
        workflow_id=handle.id,
        run_id=description.run_id,
        outcome="already_enrolled",
        status=description.status.name.lower() if description.status else "unknown",
    )
