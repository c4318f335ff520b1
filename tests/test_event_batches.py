"""POST /v1/events/batch on the dev server with real workers: journeys started once each."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Sandbox, unique_fan
from tests.test_events import journeys_of

pytestmark = pytest.mark.usefixtures("workers")


async def new_fans(api: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    response = await api.post("/v1/fans/batch", json=[unique_fan() for _ in range(count)])
    ids = [row["fan_id"] for row in response.json()["results"]]
    return [(await api.get(f"/v1/fans/{fan_id}")).json() for fan_id in ids]


def registered(fan: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "fan_external_id": fan["external_id"],
        "type": "lottery.registered",
    }


async def post_batch(api: httpx.AsyncClient, rows: list[dict[str, Any]]) -> dict[str, Any]:
    response = await api.post("/v1/events/batch", json=rows)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_batch_of_registrations_starts_each_fans_journey_once(
    api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    fans = await new_fans(api, 30)
    events = [registered(fan) for fan in fans]
    repeat = {**events[0]}
    body = await post_batch(api, [*events, repeat])
    assert body["delivered"] == 30 and body["duplicate"] == 1
    assert body["results"][-1]["outcome"] == "duplicate"
    for fan, result in zip(fans, body["results"], strict=False):
        assert result["delivered_to"] == [f"journey:ticket-buyer:{fan['id']}"]

    again = await post_batch(api, events)
    assert again["duplicate"] == 30 and again["delivered"] == 0
    for fan in fans:
        await journeys_of(api, fan["id"], lambda js: js and js[0]["step"] == "draw")
    for fan in fans:
        subjects = [m.subject for m in sandbox.received_by(fan["email"])]
        assert subjects == ["You are registered for the ticket lottery"]


async def test_a_fans_events_in_one_batch_reach_the_journey_in_order(
    api: httpx.AsyncClient,
) -> None:
    [fan] = await new_fans(api, 1)
    drawn = {**registered(fan), "type": "lottery.drawn", "data": {"result": "selected"}}
    body = await post_batch(api, [registered(fan), drawn])
    assert [r["outcome"] for r in body["results"]] == ["delivered", "delivered"]
    buying = await journeys_of(api, fan["id"], lambda js: js and js[0]["step"] == "purchase")
    assert buying[0]["waiting_for"] == "ticket.purchased"


async def test_bad_events_are_named_by_row_and_field_and_the_others_delivered(
    api: httpx.AsyncClient,
) -> None:
    [fan] = await new_fans(api, 1)
    rows = [
        {**registered(fan), "fan_external_id": "nobody-" + uuid.uuid4().hex},
        {**registered(fan), "type": "lottery.drawn", "data": {}},
        {**registered(fan), "type": "alien.landed"},
        {**registered(fan), "event_id": ""},
        registered(fan),
    ]
    body = await post_batch(api, rows)
    outcomes = [r["outcome"] for r in body["results"]]
    assert outcomes == ["rejected", "rejected", "rejected", "rejected", "delivered"]
    fields = [[e["field"] for e in r["errors"]] for r in body["results"][:4]]
    assert fields == [["fan_external_id"], ["data"], ["type"], ["event_id"]]
    assert "missing field 'result'" in body["results"][1]["errors"][0]["message"]
    # The rejected rows' ids were not recorded: once fixed, they go through.
    fixed = {**rows[1], "data": {"result": "not_selected"}}
    assert (await post_batch(api, [fixed]))["delivered"] == 1
    # A known event id does not make a bad row a duplicate: it is still wrong.
    again = await post_batch(api, [{**fixed, "data": {}}])
    assert [r["outcome"] for r in again["results"]] == ["rejected"]


async def test_over_ten_thousand_events_are_refused_whole(api: httpx.AsyncClient) -> None:
    rows = [
        {"event_id": str(n), "fan_id": "fan_x", "type": "lottery.registered"} for n in range(10_001)
    ]
    response = await api.post("/v1/events/batch", json=rows)
    assert response.status_code == 422
    assert "10000" in response.json()["detail"]


async def test_concurrent_batches_with_the_same_events_start_each_journey_once(
    api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    fans = await new_fans(api, 10)
    events = [registered(fan) for fan in fans]
    await asyncio.gather(post_batch(api, events), post_batch(api, events))
    for fan in fans:
        await journeys_of(api, fan["id"], lambda js: js and js[0]["step"] == "draw")
        assert len((await api.get(f"/v1/fans/{fan['id']}/journeys")).json()) == 1
        subjects = [m.subject for m in sandbox.received_by(fan["email"])]
        assert subjects == ["You are registered for the ticket lottery"]
