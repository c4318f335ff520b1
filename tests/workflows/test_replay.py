"""Interpreter changes must not break fans already running: recorded histories of every
released journey (and of the draw) replay on the current code without a nondeterminism error.

The histories come from `python -m tests.workflows.record_histories`.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from journeys.lock import lock_key
from journeys.registry import RELEASED
from tests.workflows.record_histories import journey_version, on_current_path
from workflows.draw import DrawWorkflow
from workflows.journey import JourneyWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
RECORDED = [
    WorkflowHistory.from_json(path.stem, path.read_text())
    for path in sorted(HISTORIES.glob("*.json"))
]


@pytest.mark.parametrize("history", RECORDED, ids=lambda h: h.workflow_id)
async def test_a_recorded_history_replays_on_the_current_interpreter(
    history: WorkflowHistory,
) -> None:
    replayer = Replayer(workflows=[JourneyWorkflow, DrawWorkflow])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{history.workflow_id}: {result.replay_failure}"


def test_every_released_journey_version_has_a_recorded_history() -> None:
    recorded = {journey_version(history) for history in RECORDED} - {None}
    assert recorded == {lock_key(j) for j in RELEASED}


def test_every_released_journey_version_has_a_history_on_the_interpreters_current_path() -> None:
    recorded = {journey_version(h) for h in RECORDED if on_current_path(h)} - {None}
    assert recorded == {lock_key(j) for j in RELEASED}
