"""Each step of the vocabulary, in the time-skipping server, with real activities."""

import asyncio
import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.client import WorkflowHandle

from journeys.calendar import CALENDAR
from journeys.journey import Journey
from journeys.registry import register
from journeys.steps import (
    Arm,
    Branch,
    CalendarDate,
    Case,
    EventSaid,
    Every,
    ForEach,
    ItemDate,
    Send,
    Split,
    Start,
    TimedOut,
    Wait,
    WaitFor,
    WaitUntil,
)
from relay.db.models import Message
from relay.task_queues import JOURNEY_TASK_QUEUE
from runs.contracts import JourneyInput, ReceivedEvent, journey_workflow_id
from tests.conftest import Sandbox
from tests.workflows.conftest import JourneyEnvironment, until_step
from workflows.journey import JourneyState, JourneyWorkflow

WELCOME = "club_welcome"  # a service email: no consent, caps or quiet hours in the way


def journey(*steps: object, **extra: object) -> Journey:
    defined = Journey(name=f"test-{uuid.uuid4().hex[:8]}", version=1, steps=steps, **extra)  # type: ignore[arg-type]
    register(defined)
    return defined


async def start(
    environment: JourneyEnvironment, definition: Journey, fan_id: str
) -> WorkflowHandle[JourneyWorkflow, JourneyState]:
    return await environment.env.client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(fan_id=fan_id, journey=definition.name, version=definition.version),
        id=journey_workflow_id(definition.name, fan_id),
        task_queue=JOURNEY_TASK_QUEUE,
    )


async def sent_steps(environment: JourneyEnvironment, fan_id: str) -> list[str]:
    async with environment.sessions() as session:
        rows = await session.scalars(
            select(Message)
            .where(Message.fan_id == fan_id, Message.status == "sent")
            .order_by(Message.id)
        )
        return [row.step for row in rows]


async def calendar_in(environment: JourneyEnvironment, days: int) -> tuple[str, date]:
    """A calendar date `days` after the test server's clock (which only moves forward)."""
    day = (await environment.env.get_current_time()).date() + timedelta(days=days)
    name = f"test-{uuid.uuid4().hex[:8]}"
    CALENDAR[name] = day
    return name, day


def event(kind: str, **data: str) -> ReceivedEvent:
    return ReceivedEvent(event_id=uuid.uuid4().hex, type=kind, data=data)


async def test_an_exit_event_ends_a_thirty_day_wait_at_once(
    journey_environment: JourneyEnvironment,
) -> None:
    definition = journey(
        Wait(id="a-month", duration=timedelta(days=30)),
        Send(id="too-late", message=WELCOME, channel="email", category="service"),
        exit_on=("fan.unsubscribed_all",),
    )
    fan = await journey_environment.add_fan()
    with journey_environment.env.auto_time_skipping_disabled():
        handle = await start(journey_environment, definition, fan.id)
        waiting = await until_step(handle, "a-month")
        assert waiting.waiting_until is not None
        before = await journey_environment.env.get_current_time()
        await handle.signal(JourneyWorkflow.event, event("fan.unsubscribed_all"))
        result = await handle.result()
        after = await journey_environment.env.get_current_time()
    assert result.status == "exited"
    assert after - before < timedelta(minutes=1)
    assert await sent_steps(journey_environment, fan.id) == []


async def test_wait_for_takes_the_event_and_branches_on_its_data_or_times_out(
    journey_environment: JourneyEnvironment,
) -> None:
    definition = journey(
        WaitFor(id="draw", event="lottery.drawn", timeout=timedelta(days=60)),
        Branch(
            id="result",
            cases=(
                Case(
                    EventSaid("draw", "result", "selected"),
                    (Send(id="selected", message=WELCOME, channel="email", category="service"),),
                ),
                Case(
                    TimedOut("draw"),
                    (Send(id="no-news", message=WELCOME, channel="email", category="service"),),
                ),
            ),
            otherwise=(
                Send(id="not-selected", message=WELCOME, channel="email", category="service"),
            ),
        ),
    )
    lucky, unlucky, forgotten = [await journey_environment.add_fan() for _ in range(3)]
    handles = [
        await start(journey_environment, definition, f.id) for f in (lucky, unlucky, forgotten)
    ]
    await handles[0].signal(JourneyWorkflow.event, event("lottery.drawn", result="selected"))
    await handles[1].signal(JourneyWorkflow.event, event("lottery.drawn", result="not_selected"))
    for handle in handles:
        await handle.result()
    assert await sent_steps(journey_environment, lucky.id) == ["selected"]
    assert await sent_steps(journey_environment, unlucky.id) == ["not-selected"]
    assert await sent_steps(journey_environment, forgotten.id) == ["no-news"]


async def test_the_same_event_id_twice_has_no_second_effect(
    journey_environment: JourneyEnvironment,
) -> None:
    definition = journey(
        WaitFor(id="first", event="torch.confirmed", timeout=timedelta(days=5)),
        WaitFor(id="second", event="torch.confirmed", timeout=timedelta(days=5)),
        Branch(
            id="check",
            cases=(
                Case(
                    TimedOut("second"),
                    (Send(id="once", message=WELCOME, channel="email", category="service"),),
                ),
            ),
        ),
    )
    fan = await journey_environment.add_fan()
    handle = await start(journey_environment, definition, fan.id)
    twice = event("torch.confirmed")
    await handle.signal(JourneyWorkflow.event, twice)
    await handle.signal(JourneyWorkflow.event, twice)
    await handle.result()
    assert await sent_steps(journey_environment, fan.id) == ["once"]


async def test_wait_until_a_calendar_date_at_ten_in_the_fans_zone_across_dst(
    journey_environment: JourneyEnvironment,
) -> None:
    # Find a day after the next Paris daylight-saving change, so the wait crosses it.
    name, day = await calendar_in(journey_environment, 1)
    paris = ZoneInfo("Europe/Paris")
    while (
        datetime.combine(day, time(12), paris).utcoffset()
        == datetime.combine(day - timedelta(days=1), time(12), paris).utcoffset()
    ):
        day += timedelta(days=1)
    CALENDAR[name] = day + timedelta(days=1)
    definition = journey(
        WaitUntil(id="eve", date=CalendarDate(name), at=time(10), offset=timedelta(days=-1)),
        Send(id="reminder", message=WELCOME, channel="email", category="service"),
    )
    fan = await journey_environment.add_fan()
    await (await start(journey_environment, definition, fan.id)).result()
    async with journey_environment.sessions() as session:
        row = await session.scalar(select(Message).where(Message.fan_id == fan.id))
    assert row is not None and row.decided_at is not None
    local = row.decided_at.astimezone(paris)
    # The test server fires timers a few milliseconds late.
    assert (local.date(), local.time().replace(microsecond=0)) == (day, time(10))


async def test_split_puts_each_fan_in_one_arm_for_good(
    journey_environment: JourneyEnvironment,
) -> None:
    definition = journey(
        Split(
            id="subject-test",
            arms=(
                Arm(
                    "a",
                    1,
                    (Send(id="arm-a", message=WELCOME, channel="email", category="service"),),
                ),
                Arm(
                    "b",
                    1,
                    (Send(id="arm-b", message=WELCOME, channel="email", category="service"),),
                ),
            ),
        ),
    )
    fans = [await journey_environment.add_fan() for _ in range(12)]
    handles = [await start(journey_environment, definition, f.id) for f in fans]
    for handle in handles:  # one at a time: concurrent result() calls upset time skipping
        await handle.result()
    arms = [tuple(await sent_steps(journey_environment, f.id)) for f in fans]
    assert set(arms) == {("arm-a",), ("arm-b",)}  # both arms used, one message per fan
    split = definition.steps[0]
    assert isinstance(split, Split)
    for fan, arm in zip(fans, arms, strict=True):
        assert ("arm-a", "arm-b")[split.arm_for(fan.id)] == arm[0]


async def test_every_repeats_until_its_date_and_a_long_life_continues_as_new(
    journey_environment: JourneyEnvironment,
) -> None:
    now = await journey_environment.env.get_current_time()
    games, games_day = await calendar_in(journey_environment, 600)
    definition = journey(
        Every(
            id="monthly",
            interval=timedelta(days=30),
            until=CalendarDate(games),
            steps=(Send(id="news", message=WELCOME, channel="email", category="urgent"),),
        ),
        Send(id="games-are-here", message=WELCOME, channel="email", category="urgent"),
    )
    fan = await journey_environment.add_fan()
    result = await (await start(journey_environment, definition, fan.id)).result()
    opening = datetime.combine(games_day, time(0), ZoneInfo("Europe/Paris"))
    expected = (opening - now).days // 30 + 1
    steps = await sent_steps(journey_environment, fan.id)
    assert steps.count("news") in (expected, expected + 1)
    assert steps[-1] == "games-are-here"
    assert result.runs >= 2  # more than a year: the run continued as new and kept its place
    assert result.messages_sent == len(steps)


async def test_for_each_runs_per_item_and_drops_removed_items(
    journey_environment: JourneyEnvironment,
) -> None:
    games, games_day = await calendar_in(journey_environment, 90)
    definition = journey(
        ForEach(
            id="sessions",
            added_by="ticket.purchased",
            removed_by="ticket.transferred_out",
            key="session_id",
            until=CalendarDate(games),
            steps=(
                WaitUntil(
                    id="eve", date=ItemDate("starts_at"), at=time(18), offset=timedelta(days=-1)
                ),
                Send(id="j-1", message=WELCOME, channel="email", category="service"),
            ),
        ),
    )
    fan = await journey_environment.add_fan()
    with journey_environment.env.auto_time_skipping_disabled():
        handle = await start(journey_environment, definition, fan.id)
        for session_id, days in (("ATH-1", 40), ("SWM-2", 50), ("GYM-3", 60)):
            day = games_day - timedelta(days=90 - days)
            starts = datetime.combine(day, time(20), UTC).isoformat()
            await handle.signal(
                JourneyWorkflow.event,
                event("ticket.purchased", session_id=session_id, starts_at=starts),
            )
        await handle.signal(
            JourneyWorkflow.event, event("ticket.transferred_out", session_id="SWM-2")
        )
        for _ in range(100):
            if (await handle.query(JourneyWorkflow.state)).items == ["ATH-1", "GYM-3"]:
                break
            await asyncio.sleep(0.02)
    await handle.result()
    async with journey_environment.sessions() as session:
        rows = sorted(
            await session.execute(
                select(Message.key, Message.item).where(
                    Message.fan_id == fan.id, Message.status == "sent"
                )
            )
        )
    assert [k.split(":")[-2] for k, _ in rows] == ["sessions[ATH-1]/j-1", "sessions[GYM-3]/j-1"]
    # Each message names its item, so service dedup tells the sessions apart.
    assert [item for _, item in rows] == ["ATH-1", "GYM-3"]


async def test_start_enrolls_the_fan_in_another_journey_once(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    other = journey(
        Send(id="hello-from-other", message=WELCOME, channel="email", category="service")
    )
    definition = journey(
        Start(id="hand-off", journey=other.name), Start(id="again", journey=other.name)
    )
    fan = await journey_environment.add_fan()
    await (await start(journey_environment, definition, fan.id)).result()
    child = journey_environment.env.client.get_workflow_handle_for(
        JourneyWorkflow.run, journey_workflow_id(other.name, fan.id)
    )
    assert (await child.result()).status == "completed"
    assert await sent_steps(journey_environment, fan.id) == ["hello-from-other"]


async def test_every_repeats_at_the_same_local_time_across_daylight_saving_changes(
    journey_environment: JourneyEnvironment,
) -> None:
    # Summer time lasts up to 31 weeks in Lyon: 32 weeks cross a change from any start (30
    # did not when the test server's clock, moved on by earlier tests, stood in early April).
    name, _ = await calendar_in(journey_environment, 7 * 32)
    definition = journey(
        Every(
            id="weekly",
            interval=timedelta(weeks=1),
            until=CalendarDate(name),
            steps=(Send(id="news", message=WELCOME, channel="email", category="urgent"),),
        )
    )
    fan = await journey_environment.add_fan(time_zone="Europe/Paris")
    await (await start(journey_environment, definition, fan.id)).result()
    async with journey_environment.sessions() as session:
        decided = list(
            await session.scalars(
                select(Message.decided_at).where(Message.fan_id == fan.id).order_by(Message.id)
            )
        )
    lyon = ZoneInfo("Europe/Paris")
    offsets = {at.astimezone(lyon).utcoffset() for at in decided if at is not None}
    assert len(offsets) == 2, "the test must cross a daylight-saving change"
    # To the minute: the test server fires timers a few milliseconds late.
    local_times = {
        (at.astimezone(lyon) + timedelta(seconds=30)).strftime("%H:%M")
        for at in decided
        if at is not None
    }
    assert len(local_times) == 1, local_times


async def test_a_round_cut_by_continue_as_new_goes_on_without_waiting_another_interval(
    journey_environment: JourneyEnvironment,
) -> None:
    # The run's yearly continue-as-new falls inside a round's own wait.
    name, _ = await calendar_in(journey_environment, 500)
    definition = journey(
        Every(
            id="monthly",
            interval=timedelta(days=30),
            until=CalendarDate(name),
            steps=(
                Wait(id="later-that-month", duration=timedelta(days=20)),
                Send(id="news", message=WELCOME, channel="email", category="urgent"),
            ),
        )
    )
    fan = await journey_environment.add_fan()
    result = await (await start(journey_environment, definition, fan.id)).result()
    assert result.runs >= 2
    gaps = await days_between_sends(journey_environment, fan.id)
    assert set(gaps) == {30}, gaps


async def test_a_round_wait_cut_by_continue_as_new_still_waits_for_its_date(
    journey_environment: JourneyEnvironment,
) -> None:
    # Rounds at 0, 40, ... 360, 400 days: the yearly continue-as-new falls in a round's wait.
    name, _ = await calendar_in(journey_environment, 500)
    definition = journey(
        Every(
            id="forty-days",
            interval=timedelta(days=40),
            until=CalendarDate(name),
            steps=(Send(id="news", message=WELCOME, channel="email", category="urgent"),),
        )
    )
    fan = await journey_environment.add_fan()
    result = await (await start(journey_environment, definition, fan.id)).result()
    assert result.runs >= 2
    gaps = await days_between_sends(journey_environment, fan.id)
    assert set(gaps) == {40}, gaps


async def days_between_sends(journey_environment: JourneyEnvironment, fan_id: str) -> list[int]:
    """Whole days between one fan's consecutive ledger decisions, in order."""
    async with journey_environment.sessions() as session:
        sent = list(
            await session.scalars(
                select(Message.decided_at).where(Message.fan_id == fan_id).order_by(Message.id)
            )
        )
    return [
        round((later - earlier) / timedelta(days=1))
        for earlier, later in itertools.pairwise(sent)
        if earlier is not None and later is not None
    ]
