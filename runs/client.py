"""Starting and signalling journey runs from outside a workflow: the API, the enroll activity
and the simulator all go through here.

By the workflow's registered name, so this module (and the activities using it) need not import
the interpreter.
"""

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from journeys.journey import Journey
from journeys.registry import JOURNEYS
from relay import search_attributes as sa
from relay.task_queues import JOURNEY_TASK_QUEUE
from runs.contracts import (
    EVENT_SIGNAL,
    JOURNEY_WORKFLOW,
    JourneyInput,
    ReceivedEvent,
    journey_workflow_id,
)


async def start_journey(
    temporal: Client, journey: Journey, fan_id: str, event: ReceivedEvent | None = None
) -> WorkflowHandle[Any, Any]:
    """Start the fan's run of this journey version; with `event`, signal-with-start it.

    Raises WorkflowAlreadyStartedError when the fan already lived (or lives) this journey
    and no event is given.
    """
    extra: dict[str, Any] = {}
    if event is not None:
        extra = {"start_signal": EVENT_SIGNAL, "start_signal_args": [event]}
    return await temporal.start_workflow(
        JOURNEY_WORKFLOW,
        JourneyInput(fan_id=fan_id, journey=journey.name, version=journey.version),
        id=journey_workflow_id(journey.name, fan_id),
        task_queue=JOURNEY_TASK_QUEUE,
        # A journey is lived once per fan: a finished run is not restarted by a repeat.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.FAN_ID, fan_id),
                SearchAttributePair(sa.JOURNEY, journey.name),
                SearchAttributePair(sa.JOURNEY_VERSION, journey.version),
                SearchAttributePair(sa.JOURNEY_STEP, "start"),
                SearchAttributePair(sa.STATUS, "running"),
            ]
        ),
        memo={"fan": fan_id, "journey": f"{journey.name} v{journey.version}"},
        **extra,
    )


async def deliver_event(temporal: Client, fan_id: str, event: ReceivedEvent) -> list[str]:
    """Start the journeys this event enrolls the fan in (signal-with-start) and signal the
    fan's runs that listen for it. Returns the runs it reached."""
    delivered = []
    for name, versions in sorted(JOURNEYS.items()):
        newest = versions[max(versions)]
        if newest.entry_event == event.type:
            try:
                await start_journey(temporal, newest, fan_id, event)
            except WorkflowAlreadyStartedError:
                continue  # lived this journey already, and it is over
            delivered.append(journey_workflow_id(name, fan_id))
        elif any(event.type in j.listens_to() for j in versions.values()):
            handle = temporal.get_workflow_handle(journey_workflow_id(name, fan_id))
            try:
                await handle.signal(EVENT_SIGNAL, event)
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # not on this journey, or no longer
            delivered.append(handle.id)
    return delivered
