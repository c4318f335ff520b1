"""POST/GET /v1/fans: upsert by external id, validation, problem details."""

import asyncio

import httpx
import pytest

from tests.conftest import create_fan, unique_fan

pytestmark = pytest.mark.usefixtures("database")


async def test_a_new_fan_is_created_with_a_pseudonymous_id(api: httpx.AsyncClient) -> None:
    body = unique_fan(phone="+33612345678", country="FR", first_name="Zoé", locale="fr")
    response = await api.post("/v1/fans", json=body)
    assert response.status_code == 201
    fan = response.json()
    assert fan["id"].startswith("fan_")
    assert body["email"] not in fan["id"] and body["external_id"] not in fan["id"]
    assert fan["zone"] == "france"
    assert (await api.get(f"/v1/fans/{fan['id']}")).json() == fan


async def test_upserting_again_changes_only_the_fields_sent(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api, phone="+33612345678", locale="fr")
    response = await api.post("/v1/fans", json={"external_id": fan["external_id"], "locale": "ja"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["id"] == fan["id"]
    assert updated["locale"] == "ja"
    assert updated["phone"] == "+33612345678"
    assert updated["email"] == fan["email"]


async def test_consent_is_recorded_with_its_source_and_time(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api, consents={"sms_marketing": {"granted": True, "source": "signup"}})
    consent = fan["consents"]["sms_marketing"]
    assert consent["granted"] is True and consent["source"] == "signup"
    withdrawn = await api.post(
        "/v1/fans",
        json={
            "external_id": fan["external_id"],
            "consents": {"sms_marketing": {"granted": False, "source": "preference-page"}},
        },
    )
    after = withdrawn.json()["consents"]["sms_marketing"]
    assert after == {**after, "granted": False, "source": "preference-page"}
    assert after["recorded_at"] >= consent["recorded_at"]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("phone", "0612345678", "E.164"),
        ("phone", "+3361", "not a valid E.164"),
        ("email", "zoe-at-example.org", "email"),
        ("locale", "klingon", "unknown locale 'klingon'"),
        ("time_zone", "Mars/Olympus", "unknown time zone"),
        ("country", "XX", "unknown country"),
        ("consents", {"carrier_pigeon": {"granted": True}}, "consents.carrier_pigeon"),
        ("favourite_colour", "blue", "favourite_colour"),
        ("locale", None, "locale cannot be null"),
    ],
)
async def test_bad_input_gets_a_422_problem_naming_the_field(
    api: httpx.AsyncClient, field: str, value: object, says: str
) -> None:
    response = await api.post("/v1/fans", json={**unique_fan(), field: value})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert says in problem["detail"]
    assert any(error["field"].startswith(field) for error in problem.get("errors", [])) or (
        field in problem["detail"]
    )


async def test_a_rejected_update_leaves_the_fan_as_it_was(api: httpx.AsyncClient) -> None:
    fan = await create_fan(api, phone="+33612345678")
    bad = await api.post(
        "/v1/fans", json={"external_id": fan["external_id"], "phone": "12", "locale": "fr"}
    )
    assert bad.status_code == 422
    assert (await api.get(f"/v1/fans/{fan['id']}")).json() == fan


async def test_a_new_fan_needs_a_locale(api: httpx.AsyncClient) -> None:
    body = unique_fan()
    del body["locale"]
    response = await api.post("/v1/fans", json=body)
    assert response.status_code == 422
    assert "locale is required" in response.json()["detail"]


async def test_a_body_that_is_not_json_gets_a_422_saying_so(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/fans", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


async def test_an_unknown_fan_is_a_404_problem(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/fans/fan_nobody")
    assert response.status_code == 404
    assert "no fan with id 'fan_nobody'" in response.json()["detail"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic dXNlcjpwYXNz"])
async def test_requests_without_the_api_key_are_refused(
    api: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as anonymous:
        response = await anonymous.post("/v1/fans", json=unique_fan(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "API key" in response.json()["detail"]


async def test_health_needs_no_key(api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as anonymous:
        assert (await anonymous.get("/health")).json() == {"status": "ok"}


async def test_concurrent_first_upserts_of_one_fan_create_it_once(
    api: httpx.AsyncClient,
) -> None:
    body = unique_fan()
    responses = await asyncio.gather(*(api.post("/v1/fans", json=body) for _ in range(5)))
    assert {r.status_code for r in responses} <= {200, 201}
    assert len({r.json()["id"] for r in responses}) == 1
