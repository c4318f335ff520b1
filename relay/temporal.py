"""Connecting to Temporal, in one place for the API, the worker and the tools."""

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from relay import search_attributes as sa
from relay.settings import Settings

# The dev server splits each task queue in four partitions, and orders a backlog by priority
# within each one only: one partition orders the whole queue (and paces it, at our rates, with
# room to spare). A cluster sets the same per queue in its dynamic config.
SINGLE_PARTITION_ARGS = (
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
)


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Register Relay's search attributes on a namespace (idempotent).

    The dev server gets them from `relay run`'s flags; a production cluster or the
    time-skipping test server needs this call once.
    """
    request = AddSearchAttributesRequest(
        namespace=namespace,
        search_attributes={key.name: key.indexed_value_type.value for key in sa.ALL},  # type: ignore[misc]
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:
            raise
