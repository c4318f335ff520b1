"""Check the message library the way fans will meet it, before anything ships.

    relay journeys lint

For every journey version: each Send names a library message on a channel it has. For every
message a journey sends: it renders on each of its channels for sample fans in every locale
and residence zone (with and without a first name and favourite sports), with no undefined
variable, and every string it shows has a translation in every locale's catalog.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.support import NullTranslations
from jinja2 import TemplateError

from journeys.calendar import CALENDAR, EDITION_TIME_ZONE
from journeys.journey import Journey
from journeys.locales import ELSEWHERE, EU, FRANCE, SCHENGEN, SUPPORTED_LOCALES
from journeys.messages import MESSAGES, SessionView
from journeys.registry import JOURNEYS
from journeys.rendering import DEFAULT_LOCALE, LOCALE_DIR, TEMPLATES_DIR, MessageRenderer
from journeys.steps import Send, walk

ZONES = (FRANCE, EU, SCHENGEN, ELSEWHERE)
# A believable home for a sample fan of each zone.
ZONE_TIME_ZONES = {
    FRANCE: "Europe/Paris",
    EU: "Europe/Berlin",
    SCHENGEN: "Europe/Zurich",
    ELSEWHERE: "Asia/Tokyo",
}


@dataclass(frozen=True)
class SampleFan:
    locale: str
    zone: str
    first_name: str | None
    interests: tuple[str, ...]

    def describe(self) -> str:
        named = "named" if self.first_name else "unnamed"
        return f"{self.locale}/{self.zone}/{named}{'/sports' if self.interests else ''}"


def sample_fans(locales: tuple[str, ...] = SUPPORTED_LOCALES) -> Iterator[SampleFan]:
    for locale, zone, named in itertools.product(locales, ZONES, (True, False)):
        yield SampleFan(
            locale, zone, "Camille" if named else None, ("judo", "surfing") if named else ()
        )


def sample_context(fan: SampleFan) -> dict[str, Any]:
    """The context a journey send gives templates (activities.message_context), for a
    sample fan holding two same-day sessions."""
    day = CALENDAR["games_open"]
    sessions = [
        SessionView(
            "ATH-101",
            "Athletics: Men's 100m Final",
            "Stade de France",
            EDITION_TIME_ZONE,
            datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC),
            "K",
        ),
        SessionView(
            "SWM-204",
            "Swimming: Women's 200m Medley",
            None,
            EDITION_TIME_ZONE,
            datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC),
            None,
        ),
    ]
    return {
        "first_name": fan.first_name,
        "zone": fan.zone,
        "time_zone": ZONE_TIME_ZONES[fan.zone],
        "interests": list(fan.interests),
        "calendar": CALENDAR,
        "session_id": " ".join(s.id for s in sessions),
        "starts_at": sessions[0].starts_at.isoformat(),
        "sessions": sorted(sessions, key=lambda s: s.starts_at),
        "unsubscribe_url": "https://relay.example/u/sample",
    }


class _Watching(NullTranslations):
    """Looks strings up in a catalog and notes the ones it does not have."""

    def __init__(self, locale: str, inner: NullTranslations, missing: set[tuple[str, str]]):
        super().__init__()
        self._locale, self._inner, self._missing = locale, inner, missing

    def gettext(self, message: str) -> str:
        if self._locale != DEFAULT_LOCALE and message not in self._inner._catalog:
            self._missing.add((self._locale, message))
        return str(self._inner.gettext(message))

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        self.gettext(msgid1)
        return str(self._inner.ngettext(msgid1, msgid2, n))

    # Jinja2 prefers these names when a translations object has them (Babel's do).
    ugettext = gettext
    ungettext = ngettext


@dataclass
class LintReport:
    problems: list[str] = field(default_factory=list)
    renders: int = 0


def sent_messages(journeys: list[Journey]) -> dict[str, set[str]]:
    """Each message any journey sends, with every channel it may go out on."""
    used: dict[str, set[str]] = {}
    for journey in journeys:
        for step in walk(journey.steps):
            if isinstance(step, Send):
                used.setdefault(step.message, set()).update((step.channel, *step.fallback))
    return used


def lint(
    journeys: list[Journey] | None = None,
    templates_dir: Path = TEMPLATES_DIR,
    locale_dir: Path = LOCALE_DIR,
) -> LintReport:
    journeys = journeys or [j for versions in JOURNEYS.values() for j in versions.values()]
    report = LintReport()
    used = sent_messages(journeys)
    for message, channels in sorted(used.items()):
        spec = MESSAGES.get(message)
        if spec is None:
            report.problems.append(f"{message}: no such message in the library")
            continue
        for channel in sorted(channels - spec.channels):
            report.problems.append(f"{message}: sent by {channel}, which it has no template for")
    missing: set[tuple[str, str]] = set()
    renderer = MessageRenderer(
        templates_dir, locale_dir, wrap=lambda locale, inner: _Watching(locale, inner, missing)
    )
    for message, channels in sorted(used.items()):
        if message not in MESSAGES:
            continue
        for fan, channel in itertools.product(
            sample_fans(), sorted(channels & MESSAGES[message].channels)
        ):
            try:
                if channel == "email":
                    renderer.render_email(message, fan.locale, sample_context(fan))
                else:
                    renderer.render_sms(message, fan.locale, sample_context(fan))
            except TemplateError as error:
                report.problems.append(f"{message} ({channel}, {fan.describe()}): {error}")
            report.renders += 1
    report.problems += [
        f"missing translation ({locale}): {text!r}" for locale, text in sorted(missing)
    ]
    return report
