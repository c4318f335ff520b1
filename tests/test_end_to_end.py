"""One fan, end to end: the API, the Temporal dev server, the worker, the SDKs, the sandbox."""

import asyncio
import uuid

import httpx
import pytest
from temporalio.client import Client

from tests.conftest import Sandbox, create_fan, unique_phone
from workflows.journey import JourneyWorkflow

pytestmark = pytest.mark.usefixtures("workers")


async def wait_for_messages(sandbox: Sandbox, address: str, count: int) -> list[object]:
    for _ in range(200):
        received = sandbox.received_by(address)
        if len(received) >= count:
            return list(received)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{address} received {len(sandbox.received_by(address))}, not {count}")


async def test_an_enrolled_fan_gets_the_welcome_email_once_in_their_language(
    api: httpx.AsyncClient, sandbox: Sandbox, temporal: Client
) -> None:
    fan = await create_fan(api, locale="fr", first_name="Zoé")
    enroll = "/v1/journeys/club-onboarding/enrollments"
    first, second = [await api.post(enroll, json={"fan_id": fan["id"]}) for _ in range(2)]

    assert (first.status_code, first.json()["outcome"]) == (201, "started")
    assert (second.status_code, second.json()["outcome"]) == (200, "already_enrolled")
    assert first.json()["run_id"] == second.json()["run_id"]
    await wait_for_messages(sandbox, fan["email"], 1)
    await asyncio.sleep(0.5)  # time for a duplicate, were there one
    [email] = sandbox.received_by(fan["email"])
    assert email.subject == "Bienvenue au Club des fans"

    ledger = (await api.get(f"/v1/fans/{fan['id']}/messages")).json()
    assert [(m["step"], m["status"], m["locale"]) for m in ledger] == [("welcome", "sent", "fr")]


async def test_an_operator_finds_the_run_by_fan_id_and_sees_its_step(
    api: httpx.AsyncClient, sandbox: Sandbox, temporal: Client
) -> None:
    fan = await create_fan(api)
    enrolled = await api.post(
        "/v1/journeys/club-onboarding/enrollments", json={"fan_id": fan["id"]}
    )
    await wait_for_messages(sandbox, fan["email"], 1)
    handle = temporal.get_workflow_handle(enrolled.json()["workflow_id"])
    for _ in range(100):
        if (await handle.query(JourneyWorkflow.state)).step == "sports-picked":
            break
        await asyncio.sleep(0.05)
    query = (
        f'FanId = "{fan["id"]}" AND Journey = "club-onboarding" AND JourneyStep = "sports-picked"'
    )
    for _ in range(100):  # visibility is eventually consistent
        found = [w async for w in temporal.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert [w.id for w in found] == [enrolled.json()["workflow_id"]]


async def test_workflow_histories_hold_no_email_phone_or_name(
    api: httpx.AsyncClient, sandbox: Sandbox, temporal: Client
) -> None:
    phone = unique_phone()
    first_name = f"Name{uuid.uuid4().hex[:8]}"
    fan = await create_fan(
        api,
        phone=phone,
        first_name=first_name,
        consents={"sms_marketing": {"granted": True}},
    )
    enrolled = await api.post(
        "/v1/journeys/club-onboarding/enrollments", json={"fan_id": fan["id"]}
    )
    await wait_for_messages(sandbox, fan["email"], 1)
    history = await temporal.get_workflow_handle(enrolled.json()["workflow_id"]).fetch_history()
    text = history.to_json()
    assert fan["id"] in text  # the scan reads the right history
    for secret in (fan["email"], phone, phone.lstrip("+"), first_name, fan["external_id"]):
        assert secret not in text


async def test_enrolling_in_an_unknown_journey_is_a_404_naming_the_known_ones(
    api: httpx.AsyncClient,
) -> None:
    fan = await create_fan(api)
    response = await api.post("/v1/journeys/club-onbording/enrollments", json={"fan_id": fan["id"]})
    assert response.status_code == 404
    assert "known journeys: club-onboarding" in response.json()["detail"]


async def test_enrolling_an_unknown_fan_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/journeys/club-onboarding/enrollments", json={"fan_id": "fan_nobody"}
    )
    assert response.status_code == 422
    assert "no fan with id 'fan_nobody'" in response.json()["detail"]
