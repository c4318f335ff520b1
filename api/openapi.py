"""The OpenAPI document declares the problems each operation may answer, as problem+json.

FastAPI declares only its own 422, as plain JSON: clients (and schemathesis's conformance
checks) must learn from the document every status and content type the API really sends.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api.guard import MAX_BODY_BYTES
from api.problems import PROBLEM_JSON


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


_WHY = {
    400: "The body cannot be read",
    401: "The API key is missing or not valid",
    403: "The provider's signature or the link is not valid",
    404: "Nothing has that id",
    409: "The request conflicts with the current state",
    413: f"The body is over the limit of {MAX_BODY_BYTES // (1024 * 1024)} MiB",
    422: "The request is not valid; `errors` names the fields at fault",
    500: "An internal error",
    503: "A service the request needs (Temporal, the database) is unavailable: retry later",
}


def _statuses(path: str, operation: dict[str, Any]) -> list[int]:
    statuses = [500]
    if operation.get("parameters") or "requestBody" in operation:
        statuses.append(422)
    if operation.get("security"):
        statuses.append(401)
    if path.startswith("/v1/webhooks/"):
        statuses += [400, 403, 413]
    if "{" in path:
        statuses.append(404)
    if "requestBody" in operation:
        statuses += [400, 413]
    if path == "/v1/incidents" and "requestBody" in operation:
        statuses += [409, 503]
    return sorted(set(statuses))


def problem_responses(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas |= problem.pop("$defs", {}) | {"Problem": problem}
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for path, operations in document["paths"].items():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    for status in _statuses(path, operation):
                        responses[str(status)] = {"description": _WHY[status], "content": content}
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
