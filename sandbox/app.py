"""The sandbox's web app: provider endpoints, a JSON API, and an inbox page for people."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sandbox import sendgrid, twilio
from sandbox.store import Fault, SandboxStore
from sandbox.webhooks import WebhookConfig, WebhookSender

_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["html"])
)


async def inbox(request: Request) -> Response:
    messages = reversed(request.app.state.store.messages())
    return HTMLResponse(_pages.get_template("inbox.html").render(messages=messages))


async def list_messages(request: Request) -> Response:
    store: SandboxStore = request.app.state.store
    to = request.query_params.get("to")
    return JSONResponse([m.as_json() for m in store.messages(to)])


async def message_stats(request: Request) -> Response:
    """How many messages arrived and when the last one did: what benchmarks time."""
    messages = request.app.state.store.messages()
    last = messages[-1].received_at if messages else None
    return JSONResponse({"count": len(messages), "last_received_at": last})


async def clear_messages(request: Request) -> Response:
    request.app.state.store.clear()
    return Response(status_code=204)


async def set_fault(request: Request) -> Response:
    """Body: {"provider": "sendgrid"|"twilio", "status": 429, "times": 2} or "rate": 0.2,
    optionally "to": one recipient and "retry_after_seconds"; {"provider", "drop_connection":
    true, ...} to take a message and close the connection unanswered; {"provider",
    "latency_ms": 200} to answer slowly (after accepting); {"provider", "hold_answers_after":
    40} to answer 40 more requests, then take later ones and hold their answers until
    {"provider", "release_answers": true}."""
    body = await request.json()
    provider = body.get("provider")
    store: SandboxStore = request.app.state.store
    if provider not in ("sendgrid", "twilio"):
        return JSONResponse({"error": "give provider (sendgrid|twilio)"}, 400)
    if "latency_ms" in body:
        store.latency[provider] = float(body["latency_ms"]) / 1000
    elif isinstance(body.get("hold_answers_after"), int):
        store.hold_answers_after(provider, body["hold_answers_after"])
    elif body.get("release_answers"):
        store.release_answers()
    elif isinstance(body.get("status"), int) or body.get("drop_connection"):
        fault = Fault(
            status=body.get("status", 0),
            times=body.get("times"),
            rate=body.get("rate"),
            retry_after_seconds=body.get("retry_after_seconds", 1),
            drop_connection=bool(body.get("drop_connection")),
            to=body.get("to"),
        )
        store.set_fault(provider, fault)
    else:
        return JSONResponse({"error": "give status, drop_connection, latency_ms or a hold"}, 400)
    return Response(status_code=204)


async def configure_webhooks(request: Request) -> Response:
    """Body: {"sendgrid_event_url", "sendgrid_signing_key_pem", "twilio_auth_token"}; each
    optional. Without them the sandbox calls nobody back."""
    body = await request.json()
    request.app.state.webhooks.config = WebhookConfig(**body)
    return Response(status_code=204)


def create_sandbox_app(
    store: SandboxStore | None = None, webhooks: WebhookConfig | None = None
) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", inbox),
            Route("/api/messages", list_messages, methods=["GET"]),
            Route("/api/messages", clear_messages, methods=["DELETE"]),
            Route("/api/stats", message_stats, methods=["GET"]),
            Route("/api/faults", set_fault, methods=["POST"]),
            Route("/api/webhooks", configure_webhooks, methods=["POST"]),
            Route("/v3/mail/send", sendgrid.mail_send, methods=["POST"]),
            Route(
                "/2010-04-01/Accounts/{account_sid}/Messages.json",
                twilio.create_message,
                methods=["POST"],
            ),
        ]
    )
    app.state.store = store or SandboxStore()
    app.state.webhooks = WebhookSender()
    if webhooks is not None:
        app.state.webhooks.config = webhooks
    return app
