"""Journeys in Temporal's time-skipping test server, with real activities on SQLite."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from apps.simulate import time_skipping_workers
from relay.db.engine import create_engine, session_factory
from relay.db.models import Consent, Fan
from tests.conftest import Sandbox, make_settings
from tests.databases import sqlite_database
from workflows.journey import JourneyState, JourneyWorkflow


@dataclass
class JourneyEnvironment:
    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]

    async def add_fan(
        self,
        *,
        locale: str = "en",
        phone: str | None = None,
        consents: tuple[str, ...] = (),
        country: str | None = None,
        time_zone: str = "Europe/Paris",
        interests: tuple[str, ...] = (),
    ) -> Fan:
        tag = uuid.uuid4().hex[:10]
        fan = Fan(
            external_id=f"ext-{tag}",
            email=f"fan-{tag}@example.org",
            phone=phone,
            locale=locale,
            country=country,
            time_zone=time_zone,
            interests=list(interests),
            consents=[Consent(purpose=p, granted=True, source="test") for p in consents],
        )
        async with self.sessions() as session:
            session.add(fan)
            await session.commit()
        return fan


@pytest.fixture(scope="session")
async def journey_environment(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox
) -> AsyncIterator[JourneyEnvironment]:
    async with sqlite_database(tmp_path_factory.mktemp("journeys")) as url:
        engine = create_engine(url)
        sessions = session_factory(engine)
        async with time_skipping_workers(make_settings(url, sandbox), sessions) as env:
            yield JourneyEnvironment(env, sessions)
        await engine.dispose()


async def until_step(
    handle: WorkflowHandle[JourneyWorkflow, JourneyState], step: str
) -> JourneyState:
    """Poll the run's state query until it reaches `step`."""
    for _ in range(300):
        state = await handle.query(JourneyWorkflow.state)
        if state.step == step:
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"the journey never reached {step}; last state {state}")
