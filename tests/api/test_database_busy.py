"""A write that cannot get the embedded database in time is told to retry: 503, never 500."""

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from relay.db import engine
from tests.conftest import API_KEY, Sandbox, make_settings, unique_fan
from tests.databases import sqlite_database


@pytest.fixture
async def sqlite_api(
    tmp_path: Path,
    sandbox: Sandbox,
    dev_server: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    # A short wait, so the test need not sit through the production one.
    monkeypatch.setattr(engine, "WRITE_WAIT_SECONDS", 0.5)
    async with sqlite_database(tmp_path) as url:
        settings = make_settings(
            url,
            sandbox,
            temporal_address=dev_server.client.service_client.config.target_host,
            temporal_namespace="default",
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://relay.test",
                headers={"Authorization": f"Bearer {API_KEY}"},
            ) as client:
                yield client


async def test_a_write_that_cannot_get_the_database_gets_503_with_retry_after_and_writes_nothing(
    sqlite_api: httpx.AsyncClient, tmp_path: Path
) -> None:
    fan = unique_fan()
    # Another process holds SQLite's write lock for longer than a write may wait.
    other = sqlite3.connect(tmp_path / "relay.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        refused = await sqlite_api.post("/v1/fans", json=fan)
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert "retry" in refused.json()["detail"]
    # Nothing was written: the retry creates the fan.
    retried = await sqlite_api.post("/v1/fans", json=fan)
    assert retried.status_code == 201, retried.text
