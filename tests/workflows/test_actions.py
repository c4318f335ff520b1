"""What a run costs in Temporal Cloud actions, and what an operator still sees for less."""

import asyncio
from datetime import UTC, datetime, time, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from journeys.steps import CalendarDate, ForEach, Send, Wait, WaitUntil
from relay import search_attributes as sa
from tests.workflows.conftest import JourneyEnvironment, until_step
from tests.workflows.test_vocabulary import WELCOME, calendar_in, event, journey, start
from workflows.journey import JourneyState, JourneyWorkflow


async def timers_started(handle: WorkflowHandle[JourneyWorkflow, JourneyState]) -> int:
    history = await handle.fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events)


async def test_branches_waiting_for_the_same_moment_share_one_timer(
    journey_environment: JourneyEnvironment,
) -> None:
    games, games_day = await calendar_in(journey_environment, 90)
    eve, _ = await calendar_in(journey_environment, 30)
    definition = journey(
        ForEach(
            id="sessions",
            added_by="ticket.purchased",
            removed_by="ticket.transferred_out",
            key="session_id",
            until=CalendarDate(games),
            steps=(
                WaitUntil(id="eve", date=CalendarDate(eve), at=time(10)),
                Send(id="reminder", message=WELCOME, channel="email", category="service"),
            ),
        ),
    )
    fan = await journey_environment.add_fan()
    starts = datetime.combine(games_day, time(20), UTC).isoformat()
    with journey_environment.env.auto_time_skipping_disabled():
        handle = await start(journey_environment, definition, fan.id)
        for session_id in ("ATH-1", "SWM-2", "GYM-3"):
            await handle.signal(
                JourneyWorkflow.event,
                event("ticket.purchased", session_id=session_id, starts_at=starts),
            )
            # One at a time: each new item wakes the loop, which waits again for its date.
            for _ in range(200):
                if session_id in (await handle.query(JourneyWorkflow.state)).items:
                    break
                await asyncio.sleep(0.02)
    result = await handle.result()
    assert result.messages_sent == 3
    # One timer for the three eves, one for the loop's last day: Cloud bills each timer.
    assert await timers_started(handle) == 2


async def test_a_waiting_run_shows_its_step_locale_and_zone_also_after_continuing_as_new(
    journey_environment: JourneyEnvironment,
) -> None:
    definition = journey(
        Send(id="welcome", message=WELCOME, channel="email", category="service"),
        Wait(id="a-long-while", duration=timedelta(days=500)),
        Send(id="still-here", message=WELCOME, channel="email", category="service"),
    )
    fan = await journey_environment.add_fan(locale="ja", country="JP", time_zone="Asia/Tokyo")
    with journey_environment.env.auto_time_skipping_disabled():
        handle = await start(journey_environment, definition, fan.id)
        await until_step(handle, "a-long-while")
        first = await operator_view(handle)
        # Past the run's yearly lifetime: the next run waits on in the same place.
        await journey_environment.env.sleep(timedelta(days=400))
        state = await handle.query(JourneyWorkflow.state)
        second = await operator_view(handle)
    expected = {"JourneyStep": "a-long-while", "Locale": "ja", "Zone": "elsewhere"}
    assert (first, second, state.runs) == (expected, expected, 2)
    result = await handle.result()
    assert result.messages_sent == 2


async def operator_view(handle: WorkflowHandle[JourneyWorkflow, JourneyState]) -> dict[str, str]:
    """The attributes an operator searches by, once the current run has published them."""
    view: dict[str, str] = {}
    for _ in range(200):
        attributes = (await handle.describe()).typed_search_attributes
        view = {
            key.name: value
            for key in (sa.JOURNEY_STEP, sa.LOCALE, sa.ZONE)
            if (value := attributes.get(key)) is not None
        }
        if view.get("JourneyStep") not in (None, "start"):
            return view
        await asyncio.sleep(0.02)
    return view
