"""Record the histories the replay tests run the interpreter over.

    .venv/bin/python -m tests.workflows.record_histories

Two sample fans live every released journey in the time-skipping server (relay.simulate):
one takes the happy paths (drawn, buys, accepted, carries the torch), the other the rest
(not drawn, declined, not drawn for the torch). The final history of each run of a journey
version not recorded yet, and the draw's, is saved as JSON under tests/workflows/histories/.
A recorded history is never overwritten: the point of the files is that old histories keep
replaying on new code, so run this when a journey version is added.
"""

import asyncio
import json
from pathlib import Path

from temporalio.client import WorkflowHistory

from journeys.registry import DRAWS, JOURNEYS, get_journey
from relay.simulate import (
    PROFILES,
    add_sample_fan,
    default_script,
    other_paths_script,
    play,
    simulation,
)
from workflows.draw import draw_workflow_id
from workflows.journey_events import journey_workflow_id
from workflows.runs import start_journey

HERE = Path(__file__).resolve().parent / "histories"


def journey_version(history: WorkflowHistory) -> str | None:
    """`name@version` of the journey run a history recorded (None for the draw's)."""
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    input = json.loads(payload.data)
    return f"{input['journey']}@{input['version']}" if "version" in input else None


def recorded() -> set[str]:
    return {
        version
        for path in HERE.glob("*.json")
        if (version := journey_version(WorkflowHistory.from_json(path.stem, path.read_text())))
    }


async def record() -> None:
    async with simulation() as (env, sessions, _):
        start = await env.get_current_time()
        happy = await add_sample_fan(sessions, PROFILES["lyon"])
        other = await add_sample_fan(sessions, PROFILES["osaka"])
        # Fans already on club-onboarding v1 keep it for years: its history replays too.
        first = await add_sample_fan(sessions, PROFILES["lyon"])
        await start_journey(env.client, get_journey("club-onboarding", 1), first)
        await play(
            env,
            env.client,
            {happy: default_script(start), other: other_paths_script(start), first: []},
        )
        known = recorded()
        for label, fan_id in (("happy", happy), ("other", other), ("v1", first)):
            for name in JOURNEYS:
                handle = env.client.get_workflow_handle(journey_workflow_id(name, fan_id))
                try:
                    history = await handle.fetch_history()
                except Exception:  # not on this journey
                    continue
                version = journey_version(history)
                if version not in known:
                    (HERE / f"{version}.{label}.json").write_text(history.to_json())
        for spec in DRAWS:
            handle = env.client.get_workflow_handle(draw_workflow_id(spec.name))
            await handle.result()
            path = HERE / f"draw.{spec.name}.json"
            if not path.exists():
                path.write_text((await handle.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(record())
