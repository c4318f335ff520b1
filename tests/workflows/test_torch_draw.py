"""The torch-relay draw: fair, seeded and reproducible; unconfirmed places go to the waitlist."""

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from activities.draws import shuffled
from apps.simulate import Scripted, paris, play, timeline
from journeys import torch_relay
from relay.db.models import DrawEntry
from relay.task_queues import JOURNEY_TASK_QUEUE
from tests.conftest import Sandbox
from tests.workflows.conftest import JourneyEnvironment
from tests.workflows.test_journeys import edition_ahead, messages
from workflows.draw import DrawWorkflow, draw_input


async def test_the_draw_ranks_entries_by_its_seed_and_fills_lapsed_places_from_the_waitlist(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    env, client = journey_environment.env, journey_environment.env.client
    fans = [(await journey_environment.add_fan()).id for _ in range(5)]
    order, digest = shuffled(fans, torch_relay.DRAW.seed)
    winner, sleeper, first_waiting, second_waiting, not_drawn = order
    now = await env.get_current_time()
    with edition_ahead(now) as calendar:
        spec = replace(torch_relay.DRAW, places=2, waitlist=2)
        draw = await client.start_workflow(
            DrawWorkflow.run,
            draw_input(spec),
            id=f"test-draw-{now.timestamp()}",
            task_queue=JOURNEY_TASK_QUEUE,
        )
        draw_day = paris(calendar["torch_relay_draw"], 12)
        scripts = {fan_id: [Scripted(now, "torch.applied")] for fan_id in fans}
        scripts[winner].append(Scripted(draw_day + timedelta(days=2), "torch.confirmed"))
        # The sleeper never confirms; after 7 days the place goes to the first on the waitlist.
        scripts[first_waiting].append(Scripted(draw_day + timedelta(days=9), "torch.confirmed"))
        await play(env, client, scripts)
        progress = await draw.result()

    assert (progress.applicants, progress.digest) == (5, digest)
    assert (progress.offered, progress.waitlisted, progress.lapsed) == (3, 2, 1)
    async with journey_environment.sessions() as session:
        entries = {
            e.fan_id: e
            for e in await session.scalars(
                select(DrawEntry).where(DrawEntry.draw == spec.name, DrawEntry.fan_id.in_(fans))
            )
        }
    # The ranks are the published shuffle: anyone with the entries and the seed gets them.
    assert [entries[f].rank for f in order] == [0, 1, 2, 3, 4]
    assert {f: entries[f].status for f in order} == {
        winner: "confirmed",
        sleeper: "lapsed",
        first_waiting: "confirmed",
        second_waiting: "waitlisted",
        not_drawn: "entered",
    }
    lives = {
        fan_id: await timeline(journey_environment.sessions, sandbox.store, fan_id)
        for fan_id in fans
    }
    told = {fan_id: messages(entries, "torch-relay-draw") for fan_id, entries in lives.items()}
    assert told[winner] == ["torch_received", "torch_selected", "torch_logistics"]
    assert told[sleeper] == ["torch_received", "torch_selected", "torch_lapsed"]
    assert told[first_waiting] == [
        "torch_received",
        "torch_waitlisted",
        "torch_selected",
        "torch_logistics",
    ]
    assert told[second_waiting] == ["torch_received", "torch_waitlisted", "torch_consolation"]
    assert told[not_drawn] == ["torch_received", "torch_consolation"]
    # Those not carrying the torch were enrolled in the fan club; the torchbearers were not.
    for fan_id in fans:
        club = messages(lives[fan_id], "club-onboarding")
        assert (club[:1] == ["club_welcome"]) == (fan_id in (second_waiting, not_drawn))
