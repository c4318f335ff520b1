"""Errors as RFC 9457 problem details, with a message a person can act on."""

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
# A client that waits this long before retrying a write usually finds the database free.
BUSY_RETRY_AFTER_SECONDS = 2


class ProblemError(HTTPException):
    """Raise from a route for a 4xx with a precise `detail`."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)


# Messages quote what was refused: a huge value is shown cut short, so answers stay small.
MAX_MESSAGE_CHARACTERS = 300


def _clipped(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARACTERS:
        return message
    return message[:MAX_MESSAGE_CHARACTERS] + "… (cut short)"


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    body |= {"detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field(location: tuple[Any, ...]) -> str:
    # ("body", "consents", "sms_marketing", "granted") -> "consents.sms_marketing.granted"
    parts = [str(p) for p in location if p not in ("body", "query", "path", "[key]")]
    return ".".join(parts) or "body"


def describe_error(error: Any) -> dict[str, str]:
    if error["type"] == "json_invalid":
        reason = error.get("ctx", {}).get("error", "")
        return {"field": "body", "message": f"the body is not valid JSON ({reason})"}
    return {
        "field": _field(tuple(error["loc"])),
        "message": _clipped(str(error["msg"]).removeprefix("Value error, ")),
    }


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    response = problem(error.status_code, str(error.detail))
    response.headers.update(error.headers or {})
    if error.status_code == 405 and (methods := _methods_of_path(request)):
        response.headers["Allow"] = ", ".join(methods)
    return response


def _methods_of_path(request: Request) -> list[str]:
    """Every method the path takes. Starlette names only those of the first route that
    matched the path, and a path served by two routes (GET and POST apart) takes both; the
    OpenAPI document (built once, cached) lists them all per path template."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [describe_error(e) for e in error.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, detail, errors=errors)


async def _database_busy(_: Request, error: Exception) -> JSONResponse:
    """A write that could not get the database in time (SQLite's lock, or every pooled
    connection taken) is the server's momentary state, not a fault: 503, retry shortly."""
    if isinstance(error, OperationalError) and "database is locked" not in str(error.orig):
        raise error
    response = problem(503, "the database is busy with other writes; retry this request shortly")
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


async def _server_error(_: Request, error: Exception) -> JSONResponse:
    # Our fault, not the client's: say so in the same format, and nothing more about it.
    return problem(500, "an internal error; it is logged, and retrying later may succeed")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(PoolTimeoutError, _database_busy)
    app.add_exception_handler(Exception, _server_error)
