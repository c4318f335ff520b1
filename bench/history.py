"""What a fan costs in Temporal: history events and Cloud actions per message sent.

    python bench/history.py

Two sample fans live every journey over five years in the time-skipping server (the
simulator's two scripts: every happy path, and the other branches). For each journey run, all
its continued-as-new runs included, it counts the history events and the actions Temporal
Cloud bills (docs.temporal.io/cloud/actions, ../shared/reference/temporal.md): workflow starts
(continue-as-new too; a signal-with-start is one action for the start and its signal),
signals, timers, activities scheduled and their retries, search-attribute upserts (not those
of `TemporalChangeVersion` alone, which patches make and Cloud does not bill), and one action
per workflow task that ran local activities. Heartbeats and queries are not in histories and
not counted. The line before the last splits the actions by kind.
"""

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.simulate import (
    PROFILES,
    add_sample_fan,
    default_script,
    other_paths_script,
    play,
    simulation,
)
from journeys.registry import JOURNEYS
from relay.db.models import Message
from runs.contracts import journey_workflow_id

ONE_ACTION = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "starts",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "upserts",
}
# Patches upsert this attribute by themselves; Cloud exempts it.
CHANGE_VERSION = "TemporalChangeVersion"
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class RunCost:
    runs: int = 0
    events: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def actions(self) -> int:
        return sum(self.kinds.values())


def actions_of(history: WorkflowHistory) -> Counter[str]:
    """The Cloud actions one run's history shows, by kind."""
    kinds: Counter[str] = Counter()
    events = history.events
    # A signal-with-start writes its signal before the first workflow task starts (so would
    # a signal racing a plain start, which Relay's starters do not do).
    first_task = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    )
    started = events[0].workflow_execution_started_event_attributes
    signal_with_start = not started.continued_execution_run_id and any(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        for e in events[:first_task]
    )
    local_activity_tasks = set()
    for number, event in enumerate(events):
        kind = ONE_ACTION.get(event.event_type)
        if number == 0 and signal_with_start:
            kind = None
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if set(fields.indexed_fields) == {CHANGE_VERSION}:
                kind = None
        if kind is not None:
            kinds[kind] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            kinds["activity retries"] += event.activity_task_started_event_attributes.attempt - 1
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == LOCAL_ACTIVITY_MARKER:
                local_activity_tasks.add(marker.workflow_task_completed_event_id)
    kinds["local activity tasks"] += len(local_activity_tasks)
    return kinds


async def cost_of(client: Client, workflow_id: str) -> RunCost | None:
    """Every run of a workflow id, newest first back through continue-as-new."""
    cost = RunCost()
    run_id: str | None = None
    try:
        run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    except Exception:
        return None
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        cost.runs += 1
        cost.events += len(history.events)
        cost.kinds += actions_of(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return cost


async def main() -> None:
    rows: list[tuple[str, str, RunCost, int]] = []
    async with simulation() as (env, sessions, _):
        start = await env.get_current_time()
        happy = await add_sample_fan(sessions, PROFILES["lyon"])
        other = await add_sample_fan(sessions, PROFILES["osaka"])
        await play(
            env, env.client, {happy: default_script(start), other: other_paths_script(start)}
        )
        for path, fan_id in (("happy paths", happy), ("other branches", other)):
            async with sessions() as session:
                sent = Counter(
                    dict(
                        (
                            await session.execute(
                                select(Message.journey, func.count())
                                .where(Message.fan_id == fan_id, Message.status == "sent")
                                .group_by(Message.journey)
                            )
                        ).all()
                    )
                )
            for name in sorted(JOURNEYS):
                cost = await cost_of(env.client, journey_workflow_id(name, fan_id))
                if cost is not None:
                    rows.append((name, path, cost, sent[name]))
    print(
        f"{'journey':<20} {'path':<15} {'runs':>4} {'events':>7} {'actions':>8} "
        f"{'sent':>5} {'events/msg':>11} {'actions/msg':>12}"
    )
    for name, path, cost, sent_count in rows:
        events, actions = (
            (f"{cost.events / sent_count:.1f}", f"{cost.actions / sent_count:.1f}")
            if sent_count
            else ("-", "-")
        )
        print(
            f"{name:<20} {path:<15} {cost.runs:>4} {cost.events:>7} {cost.actions:>8} "
            f"{sent_count:>5} {events:>11} {actions:>12}"
        )
    kinds = sum((c.kinds for _, _, c, _ in rows), Counter[str]())
    print("actions by kind: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()) if n))
    total_events = sum(c.events for _, _, c, _ in rows)
    total_actions = sum(c.actions for _, _, c, _ in rows)
    total_sent = sum(s for *_, s in rows)
    print(
        f"all: {total_events} events, {total_actions} actions, {total_sent} messages: "
        f"{total_events / total_sent:.1f} events and {total_actions / total_sent:.1f} actions "
        "per message"
    )


if __name__ == "__main__":
    asyncio.run(main())
