"""GET /v1/stats: what each step's messages did, and why some did not go."""

import time
import uuid

import httpx
import pytest

from activities.send import SendActivities
from tests.api.test_webhooks import event, signed_sendgrid
from tests.conftest import create_fan
from tests.sending import send, send_input

pytestmark = pytest.mark.usefixtures("database")


async def test_stats_count_deliveries_engagement_and_reasons_per_step(
    api: httpx.AsyncClient, send_activities: SendActivities
) -> None:
    journey = f"stats-{uuid.uuid4().hex[:6]}"
    consented = {"email_marketing": {"granted": True, "source": "test"}}
    opened_fan, silent_fan, refusing_fan = [
        await create_fan(api, consents=consented),
        await create_fan(api, consents=consented),
        await create_fan(api),
    ]
    results = {}
    for fan in (opened_fan, silent_fan, refusing_fan):
        input = send_input(
            fan["id"],
            journey=journey,
            step="news",
            message="club_sports_nudge",
            category="marketing",
        )
        results[fan["id"]] = await send(send_activities, input)
    capped = send_input(
        opened_fan["id"],
        journey=journey,
        step="news",
        message="club_sports_nudge",
        category="marketing",
    )
    assert (await send(send_activities, capped)).status == "deferred"
    events = [
        event("delivered", results[opened_fan["id"]].ledger_id, opened_fan["email"]),
        event("open", results[opened_fan["id"]].ledger_id, opened_fan["email"]),
        event("delivered", results[silent_fan["id"]].ledger_id, silent_fan["email"]),
    ]
    await api.post("/v1/webhooks/sendgrid", **signed_sendgrid(events, int(time.time())))

    [row] = (await api.get("/v1/stats", params={"journey": journey})).json()
    assert {k: row[k] for k in ("step", "message", "sent", "delivered", "opened", "clicked")} == {
        "step": "news",
        "message": "club_sports_nudge",
        "sent": 2,
        "delivered": 2,
        "opened": 1,
        "clicked": 0,
    }
    assert row["open_rate"] == 0.5 and row["click_rate"] == 0.0
    assert row["skipped"] == {"no_email_marketing_consent": 1}
    assert row["deferred"] == {"cap:1-a-day": 1}


async def test_stats_need_the_api_key(api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as anonymous:
        assert (await anonymous.get("/v1/stats")).status_code == 401
