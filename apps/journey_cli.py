"""`relay journeys lint|preview|simulate`: the product owners' tools."""

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from journeys.lint import ZONES, SampleFan, lint, sample_context
from journeys.locales import SUPPORTED_LOCALES
from journeys.messages import MESSAGES
from journeys.rendering import MessageRenderer


def add_journey_commands(commands: Any) -> None:
    journeys = commands.add_parser("journeys", help="check, preview and simulate journeys")
    actions = journeys.add_subparsers(dest="action", required=True)
    actions.add_parser("lint", help="every journey message renders and is translated")
    preview = actions.add_parser("preview", help="render one message for a sample fan")
    preview.add_argument("message", choices=sorted(MESSAGES), metavar="MESSAGE")
    preview.add_argument("--locale", choices=SUPPORTED_LOCALES, default="en")
    preview.add_argument("--zone", choices=ZONES, default="france")
    preview.add_argument("--anonymous", action="store_true", help="a fan without a first name")
    preview.add_argument("--out", type=Path, help="folder for MESSAGE.LOCALE.ZONE.html")
    simulate = actions.add_parser(
        "simulate", help="five years of one sample fan's messages, in the time-skipping server"
    )
    simulate.add_argument("--fan", choices=["lyon", "osaka"], default="lyon")


def run_journey_command(arguments: argparse.Namespace) -> int:
    if arguments.action == "lint":
        report = lint()
        for problem in report.problems:
            print(problem)
        verdict = f"{len(report.problems)} problem(s)" if report.problems else "all good"
        print(f"{report.renders} renders checked: {verdict}")
        return 1 if report.problems else 0
    if arguments.action == "preview":
        return _preview(arguments)
    from apps.simulate import format_timeline, simulate  # starts servers: only when asked

    logging.getLogger().setLevel(logging.WARNING)  # the timeline, not every provider call

    print(format_timeline(*asyncio.run(simulate(arguments.fan))))
    return 0


def _preview(arguments: argparse.Namespace) -> int:
    fan = SampleFan(
        arguments.locale,
        arguments.zone,
        None if arguments.anonymous else "Camille",
        () if arguments.anonymous else ("judo", "surfing"),
    )
    renderer, context = MessageRenderer(), sample_context(fan)
    channels = MESSAGES[arguments.message].channels
    if "email" in channels:
        email = renderer.render_email(arguments.message, fan.locale, context)
        print(f"Subject: {email.subject}\n\n{email.text}")
        if arguments.out:
            arguments.out.mkdir(parents=True, exist_ok=True)
            path = arguments.out / f"{arguments.message}.{fan.locale}.{fan.zone}.html"
            path.write_text(email.html)
            print(f"HTML: {path}")
    if "sms" in channels:
        print(f"SMS: {renderer.render_sms(arguments.message, fan.locale, context).body}")
    return 0
