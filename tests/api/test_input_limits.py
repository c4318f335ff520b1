"""Client mistakes found by schemathesis and by hand: each a 4xx problem, and nothing written."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.db.models import CompetitionSession, Ticket
from tests.conftest import create_fan
from tests.incidents import add_session

pytestmark = pytest.mark.usefixtures("database")


def assert_problem(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"], response.json()["detail"]


def session_body(**overrides: Any) -> dict[str, Any]:
    return {
        "id": f"SWM-{uuid.uuid4().hex[:8]}",
        "sport": "Swimming",
        "event_name": "Women's 200m Butterfly Final",
        "venue": "Paris La Défense Arena",
        "venue_time_zone": "Europe/Paris",
        "starts_at": "2028-07-31T20:30:00+02:00",
        "ends_at": "2028-07-31T21:00:00+02:00",
        **overrides,
    }


@pytest.mark.parametrize(
    "reference", [{"fan_id": ""}, {"fan_external_id": ""}], ids=["fan_id", "fan_external_id"]
)
async def test_an_empty_fan_reference_in_a_ticket_or_event_is_a_422(
    api: httpx.AsyncClient, reference: dict[str, str]
) -> None:
    session_id = await add_session(api)
    tickets = await api.post(
        "/v1/tickets", json=[{"id": uuid.uuid4().hex, "session_id": session_id, **reference}]
    )
    assert_problem(tickets, 422, next(iter(reference)))
    event = {"event_id": uuid.uuid4().hex, "type": "lottery.registered", **reference}
    assert_problem(await api.post("/v1/events", json=event), 422, next(iter(reference)))


async def test_a_transfer_to_an_empty_fan_id_is_a_422_and_the_ticket_stays(
    api: httpx.AsyncClient,
) -> None:
    fan, session_id = await create_fan(api), await add_session(api)
    ticket = {"id": uuid.uuid4().hex, "fan_id": fan["id"], "session_id": session_id}
    assert (await api.post("/v1/tickets", json=[ticket])).status_code == 200
    moved = await api.post(f"/v1/tickets/{ticket['id']}/transfer", json={"to_fan_id": ""})
    assert_problem(moved, 422, "to_fan_id")


async def test_duplicate_session_ids_in_one_batch_are_named_and_nothing_is_loaded(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, other = session_body(), session_body()
    again = {**first, "event_name": "Something else"}
    response = await api.put("/v1/sessions", json=[first, other, again])
    assert_problem(response, 422, f"duplicate session ids in the batch: {first['id']}")
    async with sessions() as db:
        loaded = await db.scalars(
            select(CompetitionSession.id).where(
                CompetitionSession.id.in_([first["id"], other["id"]])
            )
        )
        assert list(loaded) == []


async def test_duplicate_ticket_ids_in_one_batch_are_named_and_nothing_is_loaded(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fan, session_id = await create_fan(api), await add_session(api)
    ticket = {"id": uuid.uuid4().hex, "fan_id": fan["id"], "session_id": session_id}
    response = await api.post("/v1/tickets", json=[ticket, {**ticket, "seats": 2}])
    assert_problem(response, 422, f"duplicate ticket ids in the batch: {ticket['id']}")
    async with sessions() as db:
        assert await db.get(Ticket, ticket["id"]) is None


@pytest.mark.parametrize("country", ["ZZ", "EU", "XA", "QO", "UN"])
async def test_a_country_must_be_an_iso_3166_country(api: httpx.AsyncClient, country: str) -> None:
    fan = await create_fan(api)
    response = await api.patch(f"/v1/fans/{fan['id']}", json={"country": country})
    assert_problem(response, 422, f"unknown country {country!r}")


async def test_seventy_thousand_interests_are_refused(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api)
    interests = [f"sport-{n}" for n in range(70_000)]
    response = await api.patch(f"/v1/fans/{fan['id']}", json={"interests": interests})
    assert_problem(response, 422, "interests")
    assert (await api.get(f"/v1/fans/{fan['id']}")).json()["interests"] == []


@pytest.mark.parametrize(
    ("event_type", "data", "says"),
    [
        ("lottery.registered", {"email": "zoe@example.org"}, "undeclared field 'email'"),
        ("lottery.drawn", {"result": "selected", "name": "Zoé"}, "undeclared field 'name'"),
        ("lottery.drawn", {"result": "maybe"}, "'result' must be one of"),
        ("ticket.purchased", {"session_id": "", "starts_at": "2028-07-30T19:00:00+02:00"}, ""),
    ],
)
async def test_event_data_must_match_the_declared_schema_of_its_type(
    api: httpx.AsyncClient, event_type: str, data: dict[str, str], says: str
) -> None:
    fan = await create_fan(api)
    body = {"event_id": uuid.uuid4().hex, "fan_id": fan["id"], "type": event_type, "data": data}
    assert_problem(await api.post("/v1/events", json=body), 422, says)


async def test_event_data_of_two_and_a_half_megabytes_is_refused(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api)
    data = {f"k{n}": "x" * 500 for n in range(5_000)}
    body = {"event_id": uuid.uuid4().hex, "fan_id": fan["id"], "type": "torch.applied"}
    response = await api.post("/v1/events", json={**body, "data": data})
    assert 400 <= response.status_code < 500, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_incident_gate_longer_than_a_ticket_gate_is_refused_before_anything_is_written(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await add_session(api)
    fan = await create_fan(api)
    ticket = {"id": uuid.uuid4().hex, "fan_id": fan["id"], "session_id": session_id, "gate": "A"}
    assert (await api.post("/v1/tickets", json=[ticket])).status_code == 200
    response = await api.post(
        "/v1/incidents",
        json={
            "message": "incident_gate_change",
            "parameters": {"to_gate": "K" * 33},
            "scope": {"sessions": [session_id]},
            "channels": ["email"],
        },
    )
    assert_problem(response, 422, "to_gate is longer than 32 characters")
    async with sessions() as db:
        assert (await db.get(Ticket, ticket["id"])) is not None
        gate = await db.scalar(select(Ticket.gate).where(Ticket.id == ticket["id"]))
    assert gate == "A"


@pytest.mark.parametrize(
    "path", ["/v1/fans/%00", "/v1/fans/%00/journeys", "/v1/incidents/%00", "/v1/stats?journey=%00"]
)
async def test_a_nul_character_in_a_url_is_a_422_not_a_database_error(
    api: httpx.AsyncClient, path: str
) -> None:
    assert_problem(await api.get(path), 422, "pattern")


async def test_a_nul_character_in_a_body_is_a_422_and_nothing_is_written(
    api: httpx.AsyncClient,
) -> None:
    body = {"external_id": f"ext-{uuid.uuid4().hex}", "locale": "en", "first_name": "Zo\u0000e"}
    assert_problem(await api.post("/v1/fans", json=body), 422, "NUL")


async def test_an_email_whose_local_part_is_longer_than_sixty_four_characters_is_refused(
    api: httpx.AsyncClient,
) -> None:
    # RFC 5321: no mail server takes it, so it would only fail later, at SendGrid.
    refused = await api.post(
        "/v1/fans", json={"external_id": uuid.uuid4().hex, "email": "a" * 65 + "@example.org"}
    )
    assert_problem(refused, 422, "64")


async def test_the_openapi_document_shows_the_phone_pattern_and_the_time_zones_allowed(
    api: httpx.AsyncClient,
) -> None:
    # Schemathesis and client generators read these: the document is no looser than the checks.
    fan = (await api.get("/openapi.json")).json()["components"]["schemas"]["FanRequest"]
    phone, time_zone = (fan["properties"][f]["anyOf"][0] for f in ("phone", "time_zone"))
    assert phone["pattern"].startswith("^\\+")
    assert "Europe/Paris" in time_zone["enum"] and "" not in time_zone["enum"]


async def test_a_problem_does_not_echo_a_huge_refused_value_in_full(
    api: httpx.AsyncClient,
) -> None:
    # The answer to a mistake stays small whatever was sent: the value is shown cut short.
    refused = await api.post(
        "/v1/fans", json={"external_id": uuid.uuid4().hex, "locale": "x" * 5_000}
    )
    assert_problem(refused, 422, "unknown locale")
    assert len(refused.content) < 2_000


async def test_a_time_given_as_a_number_is_a_422_not_read_as_unix_time(
    api: httpx.AsyncClient,
) -> None:
    # The document promises ISO 8601 text; a number would silently become a 1970s-based time.
    times = {"starts_at": 1_900_000_000, "ends_at": 1_900_003_600}
    assert_problem(await api.put("/v1/sessions", json=[session_body(**times)]), 422, "0.starts_at")
    fan = await create_fan(api)
    event = {"event_id": uuid.uuid4().hex, "fan_id": fan["id"], "type": "lottery.registered"}
    late = await api.post("/v1/events", json={**event, "occurred_at": 1_700_000_000})
    assert_problem(late, 422, "occurred_at")
    scope = {"venue": "Stade de France", "from": 1_900_000_000, "until": 1_900_003_600.5}
    incident = {"message": "incident_session_cancelled", "scope": scope, "channels": ["email"]}
    assert_problem(await api.post("/v1/incidents", json=incident), 422, "scope.from")
