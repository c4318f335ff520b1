"""Calling the real send activity from tests, at a chosen moment."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.contracts import SendInput, SendOutput
from activities.send import SendActivities

# A Wednesday, 14:00 in Paris: outside every quiet hour, so only what a test sets up holds.
WEDNESDAY_AFTERNOON = datetime(2027, 3, 10, 13, 0, tzinfo=UTC)


def send_input(fan_id: str, channel: str = "email", **overrides: Any) -> SendInput:
    fields: dict[str, Any] = {
        "fan_id": fan_id,
        "key": f"test:{uuid.uuid4().hex}:step:0",
        "journey": "club-onboarding",
        "journey_version": 1,
        "step": "welcome" if channel == "email" else "nudge-sms",
        "message": "club_welcome" if channel == "email" else "club_sports_nudge",
        "channel": channel,
        "category": "service",
    }
    return SendInput(**{**fields, **overrides})


async def send(
    activities: SendActivities, input: SendInput, at: datetime = WEDNESDAY_AFTERNOON
) -> SendOutput:
    environment = ActivityEnvironment()
    environment.info = replace(environment.info, current_attempt_scheduled_time=at)
    result: SendOutput = await environment.run(activities.send_message, input)
    return result
