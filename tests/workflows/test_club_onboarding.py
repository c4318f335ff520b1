"""club-onboarding v1 over its whole life, two days passing in milliseconds."""

from datetime import datetime, timedelta

from sqlalchemy import select
from temporalio.client import WorkflowHandle

from relay.db.models import Message
from relay.task_queues import JOURNEY_TASK_QUEUE
from runs.contracts import JourneyInput, journey_workflow_id
from tests.conftest import Sandbox, unique_phone
from tests.workflows.conftest import JourneyEnvironment, until_step
from workflows.journey import JourneyState, JourneyWorkflow


async def start(
    environment: JourneyEnvironment, fan_id: str
) -> WorkflowHandle[JourneyWorkflow, JourneyState]:
    return await environment.env.client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(fan_id=fan_id, journey="club-onboarding", version=1),
        id=journey_workflow_id("club-onboarding", fan_id),
        task_queue=JOURNEY_TASK_QUEUE,
    )


async def ledger(environment: JourneyEnvironment, fan_id: str) -> list[tuple[str, str, str]]:
    async with environment.sessions() as session:
        rows = await session.scalars(
            select(Message).where(Message.fan_id == fan_id).order_by(Message.id)
        )
        return [(row.step, row.status, row.reason or "") for row in rows]


async def test_a_fan_who_accepts_sms_gets_the_welcome_email_then_an_sms_two_days_later(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    fan = await journey_environment.add_fan(locale="fr", phone=phone, consents=("sms_marketing",))
    started_at = await journey_environment.env.get_current_time()
    handle = await start(journey_environment, fan.id)
    result = await handle.result()
    finished_at = await journey_environment.env.get_current_time()

    assert result.status == "completed" and result.messages_sent == 2
    assert finished_at - started_at >= timedelta(days=2)
    [welcome] = sandbox.received_by(fan.email or "")
    assert welcome.subject == "Bienvenue au Club des fans"
    [nudge] = sandbox.received_by(phone)
    assert "sports préférés" in (nudge.text or "")
    assert await ledger(journey_environment, fan.id) == [
        ("welcome", "sent", ""),
        ("nudge-sms", "sent", ""),
    ]


async def test_without_sms_consent_the_nudge_goes_by_email(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(phone=unique_phone(), consents=("email_marketing",))
    await (await start(journey_environment, fan.id)).result()
    subjects = [m.subject for m in sandbox.received_by(fan.email or "")]
    assert subjects == ["Welcome to the Fan Club", "Which sports do you love?"]


async def test_without_any_marketing_consent_the_nudge_is_skipped_and_the_ledger_says_why(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan()
    result = await (await start(journey_environment, fan.id)).result()
    assert result.messages_sent == 1
    assert len(sandbox.received_by(fan.email or "")) == 1
    assert await ledger(journey_environment, fan.id) == [
        ("welcome", "sent", ""),
        ("nudge-email", "skipped", "no_email_marketing_consent"),
    ]


async def test_while_waiting_the_journey_tells_its_step_and_until_when(
    journey_environment: JourneyEnvironment,
) -> None:
    fan = await journey_environment.add_fan()
    # Without auto time skipping the two-day timer holds, so we can look at the wait.
    with journey_environment.env.auto_time_skipping_disabled():
        handle = await start(journey_environment, fan.id)
        state = await until_step(handle, "settle-in")
        assert state.status == "running" and state.messages_sent == 1
        assert state.waiting_until is not None
        now = await journey_environment.env.get_current_time()
        assert timedelta(days=1, hours=23) < state.waiting_until - now <= timedelta(days=2)
    await handle.result()


async def test_a_nudge_over_the_weekly_cap_waits_durably_then_goes(
    journey_environment: JourneyEnvironment, sandbox: Sandbox
) -> None:
    fan = await journey_environment.add_fan(consents=("email_marketing",))
    now = await journey_environment.env.get_current_time()
    async with journey_environment.sessions() as session:
        for n in range(3):  # three marketing messages from other journeys, just now
            session.add(_marketing_row(fan.id, f"other-journey:{fan.id}:{n}", now))
        await session.commit()

    await (await start(journey_environment, fan.id)).result()
    finished_at = await journey_environment.env.get_current_time()

    assert finished_at - now >= timedelta(days=7)
    subjects = [m.subject for m in sandbox.received_by(fan.email or "")]
    assert subjects == ["Welcome to the Fan Club", "Which sports do you love?"]
    async with journey_environment.sessions() as session:
        nudge = await session.scalar(
            select(Message).where(Message.fan_id == fan.id, Message.step == "nudge-email")
        )
    assert nudge is not None and nudge.status == "sent"
    assert nudge.deferral_count == 1 and nudge.deferral_reason == "cap:3-a-week"


def _marketing_row(fan_id: str, key: str, decided_at: datetime) -> Message:
    return Message(
        key=key,
        fan_id=fan_id,
        journey="other-journey",
        journey_version=1,
        step="news",
        message="club_sports_nudge",
        channel="email",
        category="marketing",
        status="sent",
        decided_at=decided_at,
    )
