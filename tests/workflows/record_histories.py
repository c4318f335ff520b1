"""Record the histories the replay tests run the interpreter over.

    .venv/bin/python -m tests.workflows.record_histories

Two sample fans live every released journey in the time-skipping server (apps.simulate):
one takes the happy paths (drawn, buys, accepted, carries the torch), the other the rest
(not drawn, declined, not drawn for the torch); a third lives the older versions still
released. The final history of each run of a journey version not recorded yet on the
interpreter's current path (runs record the `CURRENT_PATH` patch first), and the draw's, is
saved as JSON under tests/workflows/histories/. A recorded history is never overwritten: the
point of the files is that old histories keep replaying on new code, so run this when a
journey version or an interpreter path is added.
"""

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from apps.simulate import (
    PROFILES,
    SESSIONS,
    add_sample_fan,
    default_script,
    other_paths_script,
    play,
    session_start,
    simulation,
)
from journeys.registry import DRAWS, JOURNEYS, get_journey
from runs.client import start_journey
from runs.contracts import ReceivedEvent, journey_workflow_id
from workflows.draw import draw_workflow_id
from workflows.journey import FEWER_ACTIONS

HERE = Path(__file__).resolve().parent / "histories"
# The patch every run of the current interpreter records first.
CURRENT_PATH = FEWER_ACTIONS


def journey_version(history: WorkflowHistory) -> str | None:
    """`name@version` of the journey run a history recorded (None for the draw's)."""
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    input = json.loads(payload.data)
    return f"{input['journey']}@{input['version']}" if "version" in input else None


def patches(history: WorkflowHistory) -> set[str]:
    """The patches (`workflow.patched` ids) a history recorded."""
    found = set()
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and (
            marker.marker_name == "core_patch"
        ):
            [payload] = marker.details["patch-data"].payloads
            found.add(json.loads(payload.data)["id"])
    return found


def on_current_path(history: WorkflowHistory) -> bool:
    return CURRENT_PATH in patches(history)


def recorded() -> set[tuple[str, bool]]:
    """(`name@version`, on the current path) of every recorded journey history."""
    found = set()
    for path in HERE.glob("*.json"):
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        version = journey_version(history)
        if version:
            found.add((version, on_current_path(history)))
    return found


async def record() -> None:
    async with simulation() as (env, sessions, _):
        start = await env.get_current_time()
        happy = await add_sample_fan(sessions, PROFILES["lyon"])
        other = await add_sample_fan(sessions, PROFILES["osaka"])
        # Fans already on older versions keep them for years: their histories replay too.
        first = await add_sample_fan(sessions, PROFILES["lyon"])
        await start_journey(env.client, get_journey("club-onboarding", 1), first)
        session_id, *_, days, hour, minute, _ = SESSIONS[0]
        purchase = ReceivedEvent(
            event_id=f"record-{first}-purchase",
            type="ticket.purchased",
            data={
                "session_id": session_id,
                "starts_at": session_start(days, hour, minute).isoformat(),
            },
            occurred_at=(start + timedelta(minutes=1)).isoformat(),
        )
        await start_journey(env.client, get_journey("spectator-previsit", 1), first, purchase)
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
                current = on_current_path(history)
                if version is not None and (version, current) not in known:
                    name = f"{version}.{label}" + (f".{CURRENT_PATH}" if current else "")
                    (HERE / f"{name}.json").write_text(history.to_json())
        for spec in DRAWS:
            handle = env.client.get_workflow_handle(draw_workflow_id(spec.name))
            await handle.result()
            path = HERE / f"draw.{spec.name}.json"
            if not path.exists():
                path.write_text((await handle.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(record())
