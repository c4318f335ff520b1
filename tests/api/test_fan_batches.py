"""POST /v1/fans/batch: up to 10,000 upserts, a result per row, every valid row written."""

from typing import Any

import httpx
import pytest

from tests.conftest import create_fan, unique_fan

pytestmark = pytest.mark.usefixtures("database")


async def post_batch(api: httpx.AsyncClient, rows: list[Any]) -> dict[str, Any]:
    response = await api.post("/v1/fans/batch", json=rows)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_valid_rows_are_written_and_each_bad_row_is_named_with_its_field(
    api: httpx.AsyncClient,
) -> None:
    existing = await create_fan(api, locale="fr")
    good = unique_fan(phone="+33612345678", country="FR")
    rows = [
        good,
        {**unique_fan(), "phone": "0612345678"},
        {"external_id": existing["external_id"], "locale": "ja"},
        {**unique_fan(), "favourite_colour": "blue"},
    ]
    body = await post_batch(api, rows)
    results = body["results"]
    assert [r["outcome"] for r in results] == [
        "created",
        "rejected",
        "updated",
        "rejected",
    ]
    assert (body["created"], body["updated"], body["rejected"]) == (1, 1, 2)
    assert [e["field"] for e in results[1]["errors"]] == ["phone"]
    assert "E.164" in results[1]["errors"][0]["message"]
    assert [e["field"] for e in results[3]["errors"]] == ["favourite_colour"]
    assert results[2]["fan_id"] == existing["id"]
    created = (await api.get(f"/v1/fans/{results[0]['fan_id']}")).json()
    assert (created["external_id"], created["phone"], created["zone"]) == (
        good["external_id"],
        "+33612345678",
        "france",
    )
    assert (await api.get(f"/v1/fans/{existing['id']}")).json()["locale"] == "ja"


async def test_a_new_fan_without_a_locale_is_refused_and_nothing_is_written_for_it(
    api: httpx.AsyncClient,
) -> None:
    lonely = unique_fan()
    del lonely["locale"]
    lonely["consents"] = {"email_marketing": {"granted": True}}
    body = await post_batch(api, [lonely, unique_fan()])
    assert [r["outcome"] for r in body["results"]] == ["rejected", "created"]
    assert body["results"][0]["errors"][0]["field"] == "locale"
    retry = await api.post("/v1/fans", json={"external_id": lonely["external_id"]})
    assert retry.status_code == 422  # still unknown, so still a creation without a locale


async def test_an_external_id_twice_in_one_batch_writes_the_first_row_only(
    api: httpx.AsyncClient,
) -> None:
    first = unique_fan(first_name="First")
    body = await post_batch(api, [first, {**first, "first_name": "Second"}])
    assert [r["outcome"] for r in body["results"]] == ["created", "rejected"]
    assert body["results"][1]["errors"][0] == {
        "field": "external_id",
        "message": "the same external_id as row 0",
    }
    fan = (await api.get(f"/v1/fans/{body['results'][0]['fan_id']}")).json()
    assert fan["first_name"] == "First"


async def test_markup_is_kept_as_text_and_empty_strings_are_refused_by_field(
    api: httpx.AsyncClient,
) -> None:
    marked = unique_fan(first_name="<script>alert(1)</script> Zoé")
    body = await post_batch(
        api, [marked, {**unique_fan(), "external_id": ""}, {**unique_fan(), "email": ""}]
    )
    assert [r["outcome"] for r in body["results"]] == ["created", "rejected", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "external_id"
    assert body["results"][2]["errors"][0]["field"] == "email"
    fan = (await api.get(f"/v1/fans/{body['results'][0]['fan_id']}")).json()
    assert fan["first_name"] == "<script>alert(1)</script> Zoé"


async def test_over_ten_thousand_rows_is_refused_whole_naming_the_limit(
    api: httpx.AsyncClient,
) -> None:
    rows = [unique_fan() for _ in range(10_001)]
    response = await api.post("/v1/fans/batch", json=rows)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "10000" in response.json()["detail"]
    probe = await api.post("/v1/fans", json={"external_id": rows[0]["external_id"]})
    assert probe.status_code == 422  # nothing of the refused batch was written


# The list itself promises objects: one that is not is no row of anything.
@pytest.mark.parametrize("body", [[], {"fans": []}, "fans", [unique_fan(), 42]])
async def test_a_body_that_is_not_a_list_of_rows_gets_a_422(
    api: httpx.AsyncClient, body: object
) -> None:
    response = await api.post("/v1/fans/batch", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_ten_thousand_rows_go_in_in_one_request(api: httpx.AsyncClient) -> None:
    rows = [unique_fan() for _ in range(10_000)]
    body = await post_batch(api, rows)
    assert body["created"] == 10_000
    again = await post_batch(api, [{**row, "locale": "de"} for row in rows])
    assert again["updated"] == 10_000
    last = (await api.get(f"/v1/fans/{again['results'][-1]['fan_id']}")).json()
    assert (last["external_id"], last["locale"]) == (rows[-1]["external_id"], "de")


# The same story told one fan a request and in batches: the fans must end up the same.
STORY: list[dict[str, Any]] = [
    {
        "email": "story@example.org",
        "phone": "+33612345678",
        "first_name": "Zoé",
        "locale": "fr",
        "country": "FR",
        "interests": ["fencing"],
        "consents": {
            "sms_marketing": {"granted": True, "source": "signup"},
            "email_marketing": {"granted": True},
        },
    },
    {"locale": "ja", "email": None},
    {"consents": {"sms_marketing": {"granted": False, "source": "preference-page"}}},
    {"time_zone": "Asia/Tokyo", "consents": {"email_marketing": {"granted": True}}},
    {},
]
_STAMPS = ("id", "external_id", "created_at", "updated_at")


async def test_batches_make_the_same_fans_as_single_upserts(api: httpx.AsyncClient) -> None:
    single, batched = unique_fan(), unique_fan()
    del single["locale"], batched["locale"]
    single_history, batched_history = [], []
    for step in STORY:
        response = await api.post("/v1/fans", json={**step, "external_id": single["external_id"]})
        single_history.append(response.json())
        body = await post_batch(api, [{**step, "external_id": batched["external_id"]}])
        fan_id = body["results"][0]["fan_id"]
        batched_history.append((await api.get(f"/v1/fans/{fan_id}")).json())
    for one, other in zip(single_history, batched_history, strict=True):
        assert _comparable(one) == _comparable(other)
    # A consent whose word did not change keeps its time, on both paths.
    for history in (single_history, batched_history):
        times = [fan["consents"]["email_marketing"]["recorded_at"] for fan in history]
        assert len(set(times)) == 1


def _comparable(fan: dict[str, Any]) -> dict[str, Any]:
    consents = {
        purpose: {"granted": c["granted"], "source": c["source"]}
        for purpose, c in fan["consents"].items()
    }
    return {k: v for k, v in fan.items() if k not in _STAMPS} | {"consents": consents}
