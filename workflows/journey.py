"""JourneyWorkflow: interprets one version of one journey for one fan, for years.

Everything the interpreter has done lives in `Progress` (steps completed, timers' deadlines,
branch choices, loop counts, items, events), so a run can continue-as-new at any wait and the
next run resumes at the same place, with the same pending waits and events.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        ENROLL_ACTIVITY,
        FAN_ERASED,
        FAN_NOT_FOUND,
        EnrollInput,
        GiveUpInput,
        LoadTraitsInput,
        RecordEntryInput,
        SendInput,
        SendOutput,
    )
    from activities.draws import DrawActivities
    from activities.send import SendActivities
    from activities.traits import TraitsActivities
    from journeys.calendar import (
        EDITION_TIME_ZONE,
        at_local_time,
        calendar_date,
        later_local,
        local_day,
    )
    from journeys.journey import Journey
    from journeys.registry import get_journey
    from journeys.steps import (
        Branch,
        CalendarDate,
        DateRef,
        Deadline,
        Every,
        Facts,
        ForEach,
        Record,
        Send,
        Split,
        Start,
        Step,
        Wait,
        WaitFor,
        WaitUntil,
        reads_traits,
    )
    from journeys.traits import Traits
    from relay import search_attributes as sa
    from relay.task_queues import send_priority, send_task_queue
    from runs.contracts import EVENT_SIGNAL, JOURNEY_WORKFLOW, JourneyInput, Progress, ReceivedEvent

# Provider outages can last hours; the ledger makes every retry safe.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
SEND_TIMEOUT = timedelta(seconds=60)
SEND_GIVE_UP_AFTER = timedelta(days=1)
TRAITS_TIMEOUT = timedelta(seconds=30)
# A run continues as new at its next wait after this long (so fans move to current code and
# old patches can retire), or sooner when Temporal says the history is getting large.
RUN_LIFETIME = timedelta(days=365)
SEEN_EVENTS_KEPT = 500
# Progress.items key suffix for the members of same-day merged items.
MEMBERS = "/members"
# Replay guards: runs that reached these points before the change keep their old course.
GIVE_UP_AS_VERDICT = "send-gives-up-as-a-ledger-verdict"
END_WHEN_ERASED = "end-when-the-fan-is-erased"
EVERY_ON_LOCAL_TIME = "every-repeats-on-the-fans-local-time"
# Runs started after this change load traits by local activity, share one timer among waits
# for the same moment and upsert search attributes only when their values change: Cloud bills
# each activity, timer and upsert (all local activities of one workflow task: one action).
FEWER_ACTIONS = "fewer-actions-per-message"
# A Temporal failure type whose retries ran out because the provider stayed unreachable.
_PROVIDER_DOWN = {"ProviderUnavailable", "DeliveryInDoubt"}


@dataclass(frozen=True)
class JourneyState:
    journey: str
    version: int
    step: str
    status: str
    waiting_until: datetime | None = None
    messages_sent: int = 0
    waiting_for: str | None = None
    items: list[str] = field(default_factory=list)
    runs: int = 1
    # Why a run ended early but cleanly, e.g. "fan_erased".
    reason: str | None = None


@dataclass(frozen=True)
class _Item:
    """The ForEach item a branch of steps runs for: its key (a session, or a day of merged
    sessions) and its data, which same-day merging updates in place."""

    key: str
    data: dict[str, str]


class _Exit(Exception):
    """An exit_on event arrived: stop wherever we are."""


class _End(Exception):
    """Nothing more can be done for this fan (erased): the run completes, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Suspend(Exception):
    """Time to continue as new: every branch stops at its wait, Progress says where."""


@workflow.defn(name=JOURNEY_WORKFLOW)
class JourneyWorkflow:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        self._input = input
        self._journey: Journey = get_journey(input.journey, input.version)
        self._progress = input.progress or Progress()
        self._done = set(self._progress.completed)
        self._current_step = "start"
        self._status = "running"
        self._reason: str | None = None
        self._waiting_until: datetime | None = None
        self._waiting_for: str | None = None
        self._traits: Traits | None = None
        self._exit_event: str | None = None
        self._suspending = False
        self._items_changed = 0
        self._started_at: datetime | None = None
        # (JourneyStep, Status) as last upserted; the start sets ("start", "running").
        self._published = ("start", "running")
        self._lean = False
        # Timers by deadline (ISO 8601), shared by every wait that ends then (lean runs).
        self._alarms: dict[str, asyncio.Task[None]] = {}

    # ---- messages -------------------------------------------------------------------------

    @workflow.signal(name=EVENT_SIGNAL)
    def event(self, event: ReceivedEvent) -> None:
        """An event for this fan (deduplicated by event id)."""
        if event.event_id in self._progress.seen_event_ids:
            return
        self._progress.seen_event_ids = [*self._progress.seen_event_ids, event.event_id][
            -SEEN_EVENTS_KEPT:
        ]
        if event.type in self._journey.exit_on:
            self._exit_event = event.type
        for step in self._journey.steps:
            if isinstance(step, ForEach) and event.type in (step.added_by, step.removed_by):
                self._change_items(step, event)
        self._progress.events.append(event)

    @workflow.query
    def state(self) -> JourneyState:
        return JourneyState(
            journey=self._input.journey,
            version=self._input.version,
            step=self._current_step,
            status=self._status,
            waiting_until=self._waiting_until,
            messages_sent=self._progress.messages_sent,
            waiting_for=self._waiting_for,
            items=sorted(
                k
                for step_id, items in self._progress.items.items()
                if not step_id.endswith(MEMBERS)
                for k in items
            ),
            runs=self._progress.runs,
            reason=self._reason,
        )

    # ---- the run --------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyState:
        self._started_at = workflow.now()
        self._lean = workflow.patched(FEWER_ACTIONS)
        try:
            traits = await self._refresh_traits()
            if not self._lean:
                workflow.upsert_search_attributes(
                    [sa.LOCALE.value_set(traits.locale), sa.ZONE.value_set(traits.zone)]
                )
            await self._steps(self._journey.steps, "", None)
            self._status = "completed"
        except _Exit:
            self._status = "exited"
        except _End as end:
            self._status, self._reason = "completed", end.reason
        except _Suspend:
            await workflow.wait_condition(workflow.all_handlers_finished)
            self._progress.completed = sorted(self._done)
            self._progress.runs += 1
            workflow.continue_as_new(
                JourneyInput(input.fan_id, input.journey, input.version, self._progress)
            )
        self._enter_step(self._reason or "done")
        self._publish_step()
        return self.state()

    async def _steps(self, steps: tuple[Step, ...], prefix: str, item: _Item | None) -> None:
        for step in steps:
            key = prefix + step.id
            if key in self._done:
                continue
            self._check_interrupts()
            self._enter_step(step.id)
            await self._step(step, key, item)
            self._done.add(key)

    async def _step(self, step: Step, key: str, item: _Item | None) -> None:
        match step:
            case Send():
                await self._send(step, key, item)
            case Wait():
                await self._sleep(key, workflow.now() + step.duration)
            case WaitUntil():
                zone = EDITION_TIME_ZONE if step.zone == "edition" else self._zone()
                await self._sleep(key, self._moment(step, item, zone))
            case WaitFor():
                await self._wait_for(step, key, item)
            case Branch():
                fresh = any(reads_traits(case.when) for case in step.cases)
                facts = await self._facts(item, fresh)
                chosen = self._choose(
                    key, lambda: next((i for i, c in enumerate(step.cases) if c.when(facts)), -1)
                )
                steps = step.cases[chosen].steps if chosen >= 0 else step.otherwise
                await self._steps(steps, key + "/", item)
            case Split():
                arm = self._choose(key, lambda: step.arm_for(self._input.fan_id))
                await self._steps(step.arms[arm].steps, key + "/", item)
            case Every():
                await self._every(step, key, item)
            case ForEach():
                await self._for_each(step, key)
            case Start():
                await self._start(step)
            case Record():
                try:
                    await workflow.execute_activity_method(
                        DrawActivities.record_entry,
                        RecordEntryInput(step.draw, self._input.fan_id, step.status),
                        start_to_close_timeout=TRAITS_TIMEOUT,
                    )
                except ActivityError as error:
                    _end_if_erased(error)
                    raise

    # ---- waiting --------------------------------------------------------------------------

    async def _sleep(self, key: str, deadline: datetime) -> None:
        """Sleep until a deadline fixed the first time this step ran (kept across runs)."""
        until = self._deadline(key, deadline)
        await self._wait(lambda: False, until)
        self._progress.deadlines.pop(key, None)

    async def _wait(self, ready: Callable[[], bool], until: datetime | None) -> bool:
        """Wait for `ready()` or `until`; exits and continue-as-new interrupt at once.
        True when ready, False when the time came."""
        self._waiting_until = until
        self._publish_step()
        try:
            while True:
                self._check_interrupts()
                if ready():
                    return True
                if self._should_continue_as_new():
                    self._suspending = True
                    raise _Suspend()
                now = workflow.now()
                if until is not None and now >= until:
                    return False
                # One timer to the deadline, cut only where the run's lifetime ends.
                assert self._started_at is not None
                end = self._started_at + RUN_LIFETIME
                if until is not None:
                    end = min(until, end)
                if self._lean:
                    await self._ring_or_ready(self._alarm(end), ready)
                    continue
                piece = end - now
                try:
                    await workflow.wait_condition(
                        lambda: ready() or self._interrupted(), timeout=piece
                    )
                except TimeoutError:
                    pass
        finally:
            self._waiting_until = None

    async def _ring_or_ready(self, alarm: "asyncio.Task[None]", ready: Callable[[], bool]) -> None:
        await workflow.wait_condition(lambda: ready() or alarm.done() or self._interrupted())

    def _alarm(self, deadline: datetime) -> "asyncio.Task[None]":
        """The timer that fires at `deadline`, started by the first wait for it: branches
        waiting for the same moment (the run's end, a ForEach's last day) and a wait that
        resumes after an event share one timer, one Cloud action."""
        key = deadline.isoformat()
        alarm = self._alarms.get(key)
        if alarm is None:
            alarm = asyncio.create_task(workflow.sleep(deadline - workflow.now()))
            alarm.add_done_callback(lambda _: self._alarms.pop(key, None))
            self._alarms[key] = alarm
        return alarm

    def _deadline(self, key: str, first_time: datetime) -> datetime:
        """The deadline this step instance set the first time it ran (in any earlier run)."""
        return datetime.fromisoformat(
            self._progress.deadlines.setdefault(key, first_time.isoformat())
        )

    def _interrupted(self) -> bool:
        return self._exit_event is not None or self._suspending

    def _check_interrupts(self) -> None:
        if self._exit_event is not None:
            raise _Exit()
        if self._suspending:
            raise _Suspend()

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        assert self._started_at is not None
        too_old = workflow.now() - self._started_at >= RUN_LIFETIME
        return too_old or info.is_continue_as_new_suggested()

    async def _wait_for(self, step: WaitFor, key: str, item: _Item | None) -> None:
        stream = step.event
        if step.correlate and item is not None:
            stream += "|" + item.data.get(step.correlate, "")
        candidates = []
        if step.timeout is not None:
            candidates.append(workflow.now() + step.timeout)
        if step.until is not None:
            candidates.append(self._moment(step.until, item, self._zone()))
        until = self._deadline(key, min(candidates))
        self._waiting_for = step.event
        try:
            arrived = await self._wait(
                lambda: self._next_event(step, stream, item) is not None, until
            )
        finally:
            self._waiting_for = None
        self._progress.deadlines.pop(key, None)
        if arrived:
            event = self._next_event(step, stream, item)
            assert event is not None
            self._progress.consumed[stream] = self._progress.consumed.get(stream, 0) + 1
            self._progress.event_results[step.id] = dict(event.data)
        else:
            self._progress.event_results[step.id] = {"timed_out": "true"}

    def _next_event(self, step: WaitFor, stream: str, item: _Item | None) -> ReceivedEvent | None:
        """The oldest event of this stream that no earlier wait took."""
        matching = [
            e
            for e in self._progress.events
            if e.type == step.event
            and (
                not step.correlate
                or item is None
                or e.data.get(step.correlate) == item.data.get(step.correlate)
            )
        ]
        taken = self._progress.consumed.get(stream, 0)
        return matching[taken] if len(matching) > taken else None

    def _moment(self, step: WaitUntil | Deadline, item: _Item | None, zone: str) -> datetime:
        """The date's day plus the offset, at `step.at` o'clock in `zone`."""
        day = self._date(step.date, item) + step.offset
        return at_local_time(day, step.at, zone)

    def _zone(self) -> str:
        return self._traits.time_zone if self._traits else EDITION_TIME_ZONE

    def _date(self, ref: DateRef, item: _Item | None) -> date:
        if isinstance(ref, CalendarDate):
            return calendar_date(ref.name)
        value = item.data.get(ref.field) if item else None
        if value is None:
            raise ValueError(f"the current item has no {ref.field!r}")
        # A session at 21:00 in Paris is on that Paris day for every fan, wherever they live.
        return local_day(datetime.fromisoformat(value), EDITION_TIME_ZONE)

    # ---- choosing and looping -------------------------------------------------------------

    def _choose(self, key: str, decide: Callable[[], int]) -> int:
        if key not in self._progress.choices:
            self._progress.choices[key] = decide()
        return self._progress.choices[key]

    async def _every(self, step: Every, key: str, item: _Item | None) -> None:
        until = at_local_time(self._date(step.until, item), time(0), EDITION_TIME_ZONE)
        iteration = self._progress.iterations.get(key, 0)
        while True:
            wait_key = f"{key}[{iteration}]~"
            # A round cut by continue-as-new goes on where it was, not an interval later.
            if iteration > 0 and wait_key not in self._done:
                if workflow.patched(EVERY_ON_LOCAL_TIME):
                    due = self._next_round(step, key)
                else:
                    due = workflow.now() + step.interval
                # Never past `until`: what follows the loop must not wait for a last interval.
                due = self._deadline(wait_key, min(due, until))
                if self._lean:
                    # Between rounds the run waits at the loop, whoever sent last.
                    self._enter_step(step.id)
                await self._sleep(wait_key, due)
                self._progress.rounds[key] = due.isoformat()
                self._done.add(wait_key)
            elif iteration == 0:
                self._progress.rounds.setdefault(key, workflow.now().isoformat())
            if workflow.now() >= until:
                return
            await self._steps(step.steps, f"{key}[{iteration}]/", item)
            iteration += 1
            self._progress.iterations[key] = iteration

    def _next_round(self, step: Every, key: str) -> datetime:
        """An interval after the last round was due, at the same local time in the fan's zone;
        a round a long deferral made late is not caught up."""
        last = self._progress.rounds.get(key)
        due = datetime.fromisoformat(last) if last else workflow.now()
        while due <= workflow.now():
            due = later_local(due, step.interval, self._zone())
        return due

    def _change_items(self, step: ForEach, event: ReceivedEvent) -> None:
        # Same-day items keep their members apart and derive the day items from them.
        bucket = step.id if step.same_day is None else step.id + MEMBERS
        entries = self._progress.items.setdefault(bucket, {})
        item_key = event.data.get(step.key, "")
        if event.type == step.added_by:
            entries.setdefault(item_key, {}).update(event.data)
        else:
            entries.pop(item_key, None)
        if step.same_day is not None:
            self._merge_same_day(step, step.same_day, entries)
        self._items_changed += 1

    def _merge_same_day(
        self, step: ForEach, moment_field: str, members: dict[str, dict[str, str]]
    ) -> None:
        """One item per day: the earliest member's data, and every member's key listed."""
        days: dict[str, list[dict[str, str]]] = {}
        for data in sorted(members.values(), key=lambda d: d.get(moment_field, "")):
            moment = datetime.fromisoformat(data[moment_field])
            days.setdefault(local_day(moment, EDITION_TIME_ZONE).isoformat(), []).append(data)
        items = self._progress.items.setdefault(step.id, {})
        for day in [d for d in items if d not in days]:
            del items[day]
        for day, day_members in days.items():
            merged = {**day_members[0], step.key: " ".join(m[step.key] for m in day_members)}
            # Updated in place: the day's running steps read the current members when they send.
            item = items.setdefault(day, {})
            item.clear()
            item.update(merged)

    async def _for_each(self, step: ForEach, key: str) -> None:
        items = self._progress.items.setdefault(step.id, {})
        until = at_local_time(self._date(step.until, None), time(0), EDITION_TIME_ZONE)
        running: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                for item_key, data in items.items():
                    if item_key not in running:
                        prefix = f"{key}[{item_key}]/"
                        running[item_key] = asyncio.create_task(
                            self._steps(step.steps, prefix, _Item(item_key, data))
                        )
                for item_key in [k for k in running if k not in items]:
                    running.pop(item_key).cancel()  # removed: its pending steps never run
                for task in running.values():
                    if task.done() and not task.cancelled() and task.exception():
                        raise task.exception()  # type: ignore[misc]
                if workflow.now() >= until and all(t.done() for t in running.values()):
                    return
                seen = self._items_changed
                finished = sum(t.done() for t in running.values())
                await self._wait(
                    lambda seen=seen, finished=finished: (  # type: ignore[misc]
                        self._items_changed != seen
                        or sum(t.done() for t in running.values()) != finished
                    ),
                    until if workflow.now() < until else None,
                )
        finally:
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)

    # ---- acting ---------------------------------------------------------------------------

    async def _send(self, step: Send, key: str, item: _Item | None) -> None:
        send = SendInput(
            fan_id=self._input.fan_id,
            key=f"{workflow.info().workflow_id}:{key}",
            journey=self._input.journey,
            journey_version=self._input.version,
            step=step.id,
            message=step.message,
            channel=step.channel,
            category=step.category,
            fallback_channels=list(step.fallback),
            on_pressure=step.on_pressure,
            send_before=self._deadline(key + "~stale", workflow.now() + step.max_deferral),
            parameters=dict(item.data) if item else {},
            item=item.key if item else None,
            quiet_hours_zone=EDITION_TIME_ZONE if step.quiet_hours == "edition" else None,
        )
        while True:
            try:
                result = await workflow.execute_activity_method(
                    SendActivities.send_message,
                    send,
                    task_queue=send_task_queue(step.channel),
                    priority=send_priority(step.category),
                    start_to_close_timeout=SEND_TIMEOUT,
                    schedule_to_close_timeout=SEND_GIVE_UP_AFTER,
                    retry_policy=SEND_RETRY,
                )
            except ActivityError as error:
                # A cancelled send (its item was removed) is not a verdict on the message.
                if isinstance(error.cause, CancelledError):
                    raise
                if not workflow.patched(GIVE_UP_AS_VERDICT):
                    raise
                result = await self._give_up(send, error)
            if result.status != "deferred" or result.retry_at is None:
                break
            # Caps and quiet hours defer with a durable timer; the activity decides again.
            await self._sleep(f"{key}~deferred", result.retry_at)
        self._progress.deadlines.pop(key + "~stale", None)
        if result.status == "sent":
            self._progress.messages_sent += 1
        if result.reason == FAN_ERASED and workflow.patched(END_WHEN_ERASED):
            raise _End(FAN_ERASED)

    async def _give_up(self, send: SendInput, error: ActivityError) -> SendOutput:
        """Retries ran out (a day-long outage, an unexpected error): the message fails with a
        reason in the ledger, and the journey goes on."""
        cause: BaseException | None = error.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.__cause__
        down = isinstance(cause, ApplicationError) and cause.type in _PROVIDER_DOWN
        return await workflow.execute_activity_method(
            SendActivities.give_up_message,
            GiveUpInput(send, "provider_unavailable" if down else "retries_exhausted"),
            start_to_close_timeout=TRAITS_TIMEOUT,
        )

    async def _start(self, step: Start) -> None:
        await workflow.execute_activity(
            ENROLL_ACTIVITY,
            EnrollInput(self._input.fan_id, step.journey),
            start_to_close_timeout=TRAITS_TIMEOUT,
        )

    async def _facts(self, item: _Item | None, fresh: bool) -> Facts:
        traits = await self._refresh_traits() if fresh or self._traits is None else self._traits
        return Facts(
            traits=traits, events=self._progress.event_results, item=item.data if item else None
        )

    async def _refresh_traits(self) -> Traits:
        try:
            if self._lean:
                # One database read: in the workflow task, without a round trip of its own.
                self._traits = await workflow.execute_local_activity_method(
                    TraitsActivities.load_traits,
                    LoadTraitsInput(self._input.fan_id),
                    start_to_close_timeout=TRAITS_TIMEOUT,
                )
            else:
                self._traits = await workflow.execute_activity_method(
                    TraitsActivities.load_traits,
                    LoadTraitsInput(self._input.fan_id),
                    start_to_close_timeout=TRAITS_TIMEOUT,
                )
        # A local activity's failure reaches the workflow as itself, not as its cause.
        except (ActivityError, ApplicationError) as error:
            _end_if_erased(error)
            raise
        return self._traits

    def _enter_step(self, step: str) -> None:
        """The step the query shows at once; the search attributes follow when it waits."""
        self._current_step = step

    def _publish_step(self) -> None:
        """Tell visibility where the run waits (one upsert, one Cloud action: only for steps
        that wait, which are the ones an operator looks for, and only when it changed)."""
        if self._lean:
            self._publish_changes()
            return
        published = (self._current_step, self._status)
        if published != self._published:
            self._published = published
            workflow.upsert_search_attributes(
                [sa.JOURNEY_STEP.value_set(published[0]), sa.STATUS.value_set(published[1])]
            )

    def _publish_changes(self) -> None:
        """One upsert of whatever an operator would now see differently: the step and status,
        and the fan's locale and zone (set with the first wait, kept by continue-as-new)."""
        wanted = [(sa.JOURNEY_STEP, self._current_step), (sa.STATUS, self._status)]
        if self._traits is not None:
            wanted += [(sa.LOCALE, self._traits.locale), (sa.ZONE, self._traits.zone)]
        current = workflow.info().typed_search_attributes
        changed = [key.value_set(value) for key, value in wanted if current.get(key) != value]
        if changed:
            workflow.upsert_search_attributes(changed)


def _end_if_erased(error: ActivityError | ApplicationError) -> None:
    """An activity found the fan gone: end the run cleanly rather than fail it."""
    failure = error.cause if isinstance(error, ActivityError) else error
    if isinstance(failure, ApplicationError) and failure.type == FAN_NOT_FOUND:
        raise _End(FAN_ERASED) from error
