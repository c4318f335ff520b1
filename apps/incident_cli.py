"""`relay incident`: operators trigger and watch incidents from a terminal, through the API."""

import argparse
import json
import sys
import time
import uuid
from typing import Any

import httpx

from relay.settings import Settings


def add_incident_commands(commands: Any) -> None:
    incident = commands.add_parser("incident", help="trigger or watch an incident")
    actions = incident.add_subparsers(dest="action", required=True)
    trigger = actions.add_parser("trigger", help="activate a library message for ticket holders")
    trigger.add_argument("message", help="e.g. incident_gate_change")
    trigger.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    trigger.add_argument("--session", action="append", default=[], help="a session id (repeat)")
    trigger.add_argument("--venue")
    trigger.add_argument("--from", dest="from_", metavar="ISO_TIME")
    trigger.add_argument("--until", metavar="ISO_TIME")
    trigger.add_argument("--fan", action="append", default=[], help="a fan id (repeat)")
    trigger.add_argument("--channel", action="append", choices=["email", "sms"])
    trigger.add_argument("--valid-minutes", type=int, default=120)
    trigger.add_argument("--supersedes", metavar="INCIDENT_ID")
    trigger.add_argument("--watch", action="store_true", help="follow progress until done")
    trigger.add_argument(
        "--idempotency-key",
        help="reuse one to retry a trigger whose answer was lost (default: a new one)",
    )
    show = actions.add_parser("show", help="an incident's progress")
    show.add_argument("incident_id")
    show.add_argument("--watch", action="store_true")


def run_incident_command(arguments: argparse.Namespace, settings: Settings) -> int:
    key = settings.api_key or _key_from_data_dir(settings)
    with httpx.Client(
        base_url=settings.api_public_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as api:
        if arguments.action == "trigger":
            response = _trigger(api, _body(arguments), arguments.idempotency_key)
        else:
            response = api.get(f"/v1/incidents/{arguments.incident_id}")
        if response.status_code >= 400:
            print(f"refused: {response.json().get('detail', response.text)}", file=sys.stderr)
            return 2
        progress = response.json()
        print(f"incident {progress['id']} ({progress['message']})", flush=True)
        while True:
            print(_line(progress), flush=True)
            finished = progress["status"] != "active" and progress["pending"] == 0
            if finished or not arguments.watch:
                return 0
            time.sleep(1)
            progress = api.get(f"/v1/incidents/{progress['id']}").json()


# A lost answer or an unavailable engine is retried with the same key: one incident, once.
RETRY_DELAYS = (1, 2, 4, 8)


def _trigger(api: httpx.Client, body: dict[str, Any], key: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    for delay in RETRY_DELAYS:
        try:
            response = api.post("/v1/incidents", json=body, headers=headers)
        except httpx.TransportError as error:
            print(f"no answer ({error}); retrying", file=sys.stderr, flush=True)
        else:
            if response.status_code not in (502, 503, 504):
                return response
            print(f"{response.status_code}; retrying", file=sys.stderr, flush=True)
        time.sleep(delay)
    return api.post("/v1/incidents", json=body, headers=headers)  # the last try, as it ends


def _body(arguments: argparse.Namespace) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    if arguments.session:
        scope["sessions"] = arguments.session
    if arguments.venue:
        scope |= {"venue": arguments.venue, "from": arguments.from_, "until": arguments.until}
    if arguments.fan:
        scope["fans"] = arguments.fan
    return {
        "message": arguments.message,
        "parameters": dict(_parameter(p) for p in arguments.param),
        "scope": scope,
        "channels": arguments.channel or ["email", "sms"],
        "valid_for_minutes": arguments.valid_minutes,
        "supersedes": arguments.supersedes,
    }


def _parameter(text: str) -> tuple[str, Any]:
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)  # numbers stay numbers: extra_minutes=30
    except ValueError:
        return name, value


def _line(progress: dict[str, Any]) -> str:
    audience = progress["audience"] if progress["audience"] is not None else "?"
    skipped = sum(progress["skipped"].values())
    reasons = ", ".join(f"{r}: {n}" for r, n in progress["skipped"].items())
    return (
        f"  {progress['status']}: sent {progress['sent']}/{audience}, failed {progress['failed']},"
        f" skipped {skipped}{f' ({reasons})' if reasons else ''}, pending {progress['pending']}"
    )


def _key_from_data_dir(settings: Settings) -> str:
    key_file = settings.data_dir / "api-key"
    return key_file.read_text().strip() if key_file.exists() else ""
