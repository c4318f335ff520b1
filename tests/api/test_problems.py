"""Every answer but success is a problem: the key before the body, a size limit, even a 500."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.guard import MAX_BODY_BYTES
from relay.settings import Settings

pytestmark = pytest.mark.usefixtures("database")
CHUNK = b"x" * 65_536


class CountedBody:
    """A streamed body that counts how much of it the server asked for."""

    def __init__(self, size: int) -> None:
        self.size, self.read = size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.read < self.size:
            self.read += len(CHUNK)
            yield CHUNK


def assert_problem(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]


async def test_without_the_key_a_huge_body_is_refused_before_it_is_read(
    api: httpx.AsyncClient,
) -> None:
    body = CountedBody(38 * 1024 * 1024)
    response = await api.post(
        "/v1/fans", content=body, headers={"Authorization": "", "Content-Type": "application/json"}
    )
    assert_problem(response, 401, "missing API key")
    assert response.headers["www-authenticate"] == "Bearer"
    assert body.read <= len(CHUNK)


async def test_without_the_key_an_invalid_body_is_a_401_not_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/tickets", content=b"{not json", headers={"Authorization": "Bearer wrong"}
    )
    assert_problem(response, 401, "the API key is not valid")


async def test_a_body_declared_over_the_limit_is_a_413_before_it_is_read(
    api: httpx.AsyncClient,
) -> None:
    size = MAX_BODY_BYTES + 1
    body = CountedBody(size)
    response = await api.post(
        "/v1/tickets",
        content=body,
        headers={"Content-Length": str(size), "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "over the limit of 8 MiB")
    assert body.read <= len(CHUNK)


async def test_a_streamed_body_over_the_limit_is_a_413(api: httpx.AsyncClient) -> None:
    body = CountedBody(MAX_BODY_BYTES + 2 * len(CHUNK))
    response = await api.put(
        "/v1/sessions", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "over the limit of 8 MiB")
    assert body.read < body.size


async def test_webhooks_need_no_api_key_but_a_signature(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/webhooks/sendgrid", content=b"[]", headers={"Authorization": ""})
    assert_problem(response, 403, "Signature")


async def test_an_unknown_route_and_a_wrong_method_are_problems_too(
    api: httpx.AsyncClient,
) -> None:
    assert_problem(await api.get("/v1/nothing-here"), 404, "Not Found")
    wrong = await api.delete("/v1/stats")
    assert_problem(wrong, 405, "Method Not Allowed")
    assert "GET" in wrong.headers["allow"]


async def test_an_internal_error_is_a_500_problem_that_tells_nothing_inside(
    settings: Settings, temporal: Client, tmp_path: Path
) -> None:
    # A database file in a folder that does not exist: every query fails, inside the server.
    broken = Settings(
        **settings.model_dump() | {"database_url": f"sqlite:///{tmp_path / 'missing' / 'x.db'}"}
    )
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://relay.test") as client:
            response = await client.get(
                "/v1/fans/fan_x", headers={"Authorization": f"Bearer {settings.api_key}"}
            )
    assert_problem(response, 500, "internal error")
    assert "sqlite" not in response.text.lower()


async def test_the_openapi_document_declares_each_problem_as_problem_json(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    incidents = document["paths"]["/v1/incidents"]["post"]["responses"]
    for status in ("401", "409", "413", "422", "500"):
        assert list(incidents[status]["content"]) == ["application/problem+json"]
    assert "404" in document["paths"]["/v1/fans/{fan_id}"]["get"]["responses"]
    assert "403" in document["paths"]["/v1/webhooks/sendgrid"]["post"]["responses"]
    limits = document["components"]["schemas"]["FanRequest"]["properties"]["interests"]
    assert limits["anyOf"][0]["maxItems"] == 50


@pytest.mark.parametrize(
    ("path", "methods"), [("/v1/fans/fan_x", {"GET", "PATCH"}), ("/u/token", {"GET", "POST"})]
)
async def test_a_wrong_method_names_every_method_the_path_takes(
    api: httpx.AsyncClient, path: str, methods: set[str]
) -> None:
    # RFC 9110: Allow lists the methods the resource supports, whichever route serves each.
    response = await api.request("OPTIONS", path)
    assert_problem(response, 405, "Method Not Allowed")
    assert set(response.headers["allow"].split(", ")) == methods
