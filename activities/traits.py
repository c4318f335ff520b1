"""The traits activity: a PII-free snapshot of a fan for journey predicates."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import FAN_NOT_FOUND, LoadTraitsInput
from activities.fans import reachable_channels
from journeys.locales import residence_zone
from journeys.traits import Traits
from relay.db.models import Fan


class TraitsActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_traits(self, input: LoadTraitsInput) -> Traits:
        async with self._sessions() as session:
            fan = await session.get(Fan, input.fan_id)
            if fan is None:
                # The fan was erased: nothing the journey can do for them any more.
                raise ApplicationError(
                    f"fan {input.fan_id} does not exist", type=FAN_NOT_FOUND, non_retryable=True
                )
            return Traits(
                locale=fan.locale,
                zone=residence_zone(fan.country),
                time_zone=fan.time_zone,
                country=fan.country,
                interests=list(fan.interests),
                consents=sorted(c.purpose for c in fan.consents if c.granted),
                reachable_channels=await reachable_channels(session, fan),
            )
