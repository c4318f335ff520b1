"""The `Start` step's activity: enroll the fan in another journey, as the API would.

A run of its own, not a child workflow: the other journey lives its own life, and no parent
waits for it or hears of its end.
"""

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.contracts import ENROLL_ACTIVITY, EnrollInput
from journeys.registry import latest_journey
from runs.client import start_journey


class EnrollActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name=ENROLL_ACTIVITY)
    async def enroll(self, input: EnrollInput) -> bool:
        """True when this enrolled the fan; False when they are or were on it already."""
        try:
            await start_journey(self._client, latest_journey(input.journey), input.fan_id)
        except WorkflowAlreadyStartedError:
            return False
        return True
