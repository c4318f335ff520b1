"""A sustained mixed load on the API: many clients upserting, enrolling and reading fans.

Shared by tests/test_load.py (which asserts no 5xx) and bench/load.py (which prints rates).
"""

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

ENROLL = "/v1/journeys/club-onboarding/enrollments"


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    # A request that got no answer at all (connection refused, reset, or no answer in time).
    unanswered: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fans: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.statuses.total() + len(self.unanswered)

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500) + len(self.unanswered)


async def _request(
    api: httpx.AsyncClient, result: LoadResult, method: str, url: str, **kwargs: object
) -> httpx.Response | None:
    try:
        response = await api.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as error:
        result.unanswered.append(f"{method} {url}: {error!r}")
        return None
    result.statuses[response.status_code] += 1
    if response.status_code >= 500:
        result.server_errors.append(f"{method} {url}: {response.status_code} {response.text}")
    return response


def _fan_body(tag: str) -> dict[str, object]:
    return {
        "external_id": f"load-{tag}",
        "email": f"load-{tag}@example.org",
        "locale": "fr",
        "time_zone": "Europe/Paris",
    }


async def _enroll_fans(api: httpx.AsyncClient, result: LoadResult, client: int, fans: int) -> None:
    """Create and enroll fans: each gets a welcome email, and the sandbox calls back twice."""
    for n in range(fans):
        body = _fan_body(f"{client}-{n}-{uuid.uuid4().hex[:8]}")
        created = await _request(api, result, "POST", "/v1/fans", json=body)
        if created is not None and created.status_code == 201:
            result.fans.append(body["external_id"])  # type: ignore[arg-type]
            fan_id = created.json()["id"]
            await _request(api, result, "POST", ENROLL, json={"fan_id": fan_id})


async def _update_fans(api: httpx.AsyncClient, result: LoadResult, external_ids: list[str]) -> None:
    """Upsert fans again (a consent given) and read their ledger, while their emails go out."""
    consent = {"email_marketing": {"granted": True, "source": "load-test"}}
    for external_id in external_ids:
        body = _fan_body(external_id.removeprefix("load-")) | {"consents": consent}
        updated = await _request(api, result, "POST", "/v1/fans", json=body)
        if updated is not None and updated.status_code == 200:
            await _request(api, result, "GET", f"/v1/fans/{updated.json()['id']}/messages")


async def mixed_load(api_url: str, api_key: str, clients: int, fans_per_client: int) -> LoadResult:
    """`clients` concurrent clients, each with its own connection, four requests per fan:
    first every fan is created and enrolled, then every fan is updated and read."""
    result = LoadResult()
    headers = {"Authorization": f"Bearer {api_key}"}
    # Idle connections are dropped before uvicorn closes them (5 s), or a reused one may be
    # closed under the request: a client-side race, not an answer from the server.
    limits = httpx.Limits(max_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(
        base_url=api_url, headers=headers, limits=limits, timeout=120
    ) as api:
        started = time.perf_counter()
        await asyncio.gather(
            *(_enroll_fans(api, result, c, fans_per_client) for c in range(clients))
        )
        # The worker is still sending the welcome emails and the sandbox calling back.
        fans = result.fans
        await asyncio.gather(*(_update_fans(api, result, fans[c::clients]) for c in range(clients)))
        result.seconds = time.perf_counter() - started
    return result
