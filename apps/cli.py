"""The `relay` command: run the whole engine, or one of its parts."""

import argparse
import asyncio
import logging
import sys

import uvicorn

from apps.fan_import import add_fan_commands, run_fan_command
from apps.incident_cli import add_incident_commands, run_incident_command
from apps.journey_cli import add_journey_commands, run_journey_command
from relay.settings import Settings


def _run(settings: Settings) -> int:
    from apps.embedded import run_embedded

    return asyncio.run(run_embedded(settings))


def _api(settings: Settings) -> int:
    from api.app import create_app
    from relay.logs import uvicorn_log_config

    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=uvicorn_log_config(),
    )
    return 0


def _worker(settings: Settings) -> int:
    from worker import run_workers

    asyncio.run(run_workers(settings))
    return 0


def _sandbox(settings: Settings) -> int:
    from sandbox.app import create_sandbox_app
    from sandbox.webhooks import WebhookConfig

    webhooks = WebhookConfig(
        sendgrid_event_url=f"{settings.api_public_url}/v1/webhooks/sendgrid",
        sendgrid_signing_key_pem=settings.sandbox_webhook_signing_key or None,
        twilio_auth_token=settings.twilio_auth_token,
    )
    uvicorn.run(
        create_sandbox_app(webhooks=webhooks),
        host=settings.sandbox_host,
        port=settings.sandbox_port,
        access_log=False,
    )
    return 0


def _migrate(settings: Settings) -> int:
    from relay.db.migrate import upgrade_to_head

    upgrade_to_head(settings.sqlalchemy_url)
    return 0


COMMANDS = {
    "run": (_run, "the whole engine: Temporal dev server, sandbox, worker and API"),
    "api": (_api, "the HTTP API only"),
    "worker": (_worker, "the Temporal workers only"),
    "sandbox": (_sandbox, "the provider sandbox only"),
    "migrate": (_migrate, "apply database migrations and exit"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        commands.add_parser(name, help=help_text)
    add_incident_commands(commands)
    add_fan_commands(commands)
    add_journey_commands(commands)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if arguments.command == "incident":
        return run_incident_command(arguments, Settings())
    if arguments.command == "fans":
        return run_fan_command(arguments, Settings())
    if arguments.command == "journeys":
        return run_journey_command(arguments)
    handler, _ = COMMANDS[arguments.command]
    return handler(Settings())


if __name__ == "__main__":
    sys.exit(main())
