"""POST /v1/events and GET /v1/fans/{id}/journeys, on the dev server with real workers."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Sandbox, create_fan

pytestmark = pytest.mark.usefixtures("workers")


async def post_event(
    api: httpx.AsyncClient, fan: dict[str, Any], kind: str, **data: str
) -> httpx.Response:
    return await api.post(
        "/v1/events",
        json={
            "event_id": uuid.uuid4().hex,
            "fan_external_id": fan["external_id"],
            "type": kind,
            "data": data,
        },
    )


async def journeys_of(api: httpx.AsyncClient, fan_id: str, until: Any) -> list[dict[str, Any]]:
    for _ in range(100):
        found: list[dict[str, Any]] = (await api.get(f"/v1/fans/{fan_id}/journeys")).json()
        if until(found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"journeys never matched: {found}")


async def test_an_entry_event_starts_the_journey_and_a_later_event_moves_it_on(
    api: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    fan = await create_fan(api)
    started = await post_event(api, fan, "lottery.registered")
    assert started.status_code == 202, started.text
    assert started.json()["delivered_to"] == [f"journey:ticket-buyer:{fan['id']}"]

    waiting = await journeys_of(api, fan["id"], lambda js: js and js[0]["step"] == "draw")
    assert waiting[0]["waiting_for"] == "lottery.drawn" and waiting[0]["status"] == "running"

    drawn = await post_event(api, fan, "lottery.drawn", result="selected")
    assert drawn.json()["delivered_to"] == started.json()["delivered_to"]
    buying = await journeys_of(api, fan["id"], lambda js: js and js[0]["step"] == "purchase")
    assert buying[0]["journey"] == "ticket-buyer" and buying[0]["version"] == 1
    assert buying[0]["waiting_for"] == "ticket.purchased"
    subjects = [m.subject for m in sandbox.received_by(fan["email"])]
    assert subjects == [
        "You are registered for the ticket lottery",
        "Good news: you have been drawn in the ticket lottery",
    ]


async def test_the_same_event_id_twice_is_accepted_once(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api)
    body = {"event_id": uuid.uuid4().hex, "fan_id": fan["id"], "type": "lottery.registered"}
    first, second = [await api.post("/v1/events", json=body) for _ in range(2)]
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
    assert second.json()["delivered_to"] == []


async def test_an_event_for_a_journey_the_fan_is_not_on_reaches_nothing(
    api: httpx.AsyncClient,
) -> None:
    fan = await create_fan(api)
    response = await post_event(api, fan, "lottery.drawn", result="selected")
    assert response.status_code == 202 and response.json()["delivered_to"] == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"type": "alien.landed"}, "unknown event type 'alien.landed'"),
        ({"type": "lottery.drawn", "data": {}}, "lottery.drawn event data: missing field 'result'"),
        (
            {"type": "ticket.purchased", "data": {"session_id": "S1", "starts_at": "soon"}},
            "'starts_at' must be an ISO 8601 date-time with an offset",
        ),
        ({"type": "torch.drawn", "data": {"result": "selected"}}, "come from the engine itself"),
        ({"fan_id": "fan_nobody"}, "unknown fans"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"data": {"n": 3}}, "data.n"),
    ],
)
async def test_a_bad_event_gets_a_422_naming_the_problem(
    api: httpx.AsyncClient, change: dict[str, Any], says: str
) -> None:
    fan = await create_fan(api)
    body = {
        "event_id": uuid.uuid4().hex,
        "fan_id": fan["id"],
        "type": "lottery.registered",
        **change,
    }
    response = await api.post("/v1/events", json=body)
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
