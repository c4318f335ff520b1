"""Render library messages in a fan's language: sandboxed Jinja2 with gettext catalogs.

Templates are untrusted in the sense that many hands write them, so they run in Jinja2's
sandbox; HTML autoescapes; an undefined variable is an error, never an empty string.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from journeys.locales import RIGHT_TO_LEFT_LOCALES, SUPPORTED_LOCALES
from journeys.messages import MESSAGES

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
LOCALE_DIR = HERE / "locale"
# Source strings are English, so English is the first fallback without a catalog.
DEFAULT_LOCALE = "en"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class RenderedSms:
    body: str


class UnknownMessageError(LookupError):
    pass


class _TextExtractor(HTMLParser):
    """Plain text from our own message HTML: paragraphs, headings, list items and links."""

    BLOCKS = frozenset({"p", "h1", "h2", "li", "br", "div", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n" if tag != "li" else "\n- ")
        if tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links and (href := self._links.pop()):
            self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(" ".join(data.split()) if data.strip() else "")


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    text = "".join(extractor.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _as_datetime(value: datetime | str) -> datetime:
    """Templates get moments as datetimes, or as ISO 8601 strings when event data carries them."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def load_translations(locale: str, locale_dir: Path = LOCALE_DIR) -> NullTranslations:
    """Compile the locale's .po catalog in memory: no build step, no stale .mo files."""
    po_path = locale_dir / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


class MessageRenderer:
    def __init__(
        self,
        templates_dir: Path = TEMPLATES_DIR,
        locale_dir: Path = LOCALE_DIR,
        wrap: Callable[[str, NullTranslations], NullTranslations] | None = None,
    ):
        """`wrap` lets a tool watch every string looked up (journeys.lint does)."""
        # Messages written once as body.html (journey messages): looked up once, not per send.
        self._single_body = {
            name for name in MESSAGES if (templates_dir / name / "body.html").exists()
        }
        self._translations = {
            locale: load_translations(locale, locale_dir) for locale in SUPPORTED_LOCALES
        }
        if wrap is not None:
            self._translations = {
                locale: wrap(locale, translations)
                for locale, translations in self._translations.items()
            }
        # Escaping follows what is being made, not the file being read: an HTML email that
        # includes a .txt notice escapes it too; an SMS or subject stays plain text.
        self._environments = {
            (locale, html): self._build_environment(templates_dir, locale, translations, html)
            for locale, translations in self._translations.items()
            for html in (True, False)
        }

    @staticmethod
    def _build_environment(
        templates_dir: Path, locale: str, translations: NullTranslations, html: bool
    ) -> Any:
        environment = SandboxedEnvironment(
            loader=FileSystemLoader(templates_dir),
            autoescape=html,
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            keep_trailing_newline=False,
        )
        environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]

        def local_datetime(value: datetime | str, zone: str) -> str:
            """A moment as the fan reads it: their language, their time zone, their clock."""
            value = _as_datetime(value)
            tz = ZoneInfo(zone)
            day = format_skeleton("yMMMEd", value, tzinfo=tz, locale=locale)
            return f"{day} {format_time(value, 'short', tzinfo=tz, locale=locale)}"

        def local_date(value: date) -> str:
            """A calendar day in the fan's language, e.g. "15 mars 2027"."""
            return format_date(value, "long", locale=locale)

        def local_time(value: datetime | str, zone: str) -> str:
            return format_time(_as_datetime(value), "short", tzinfo=ZoneInfo(zone), locale=locale)

        environment.filters["local_datetime"] = local_datetime
        environment.filters["local_date"] = local_date
        environment.filters["local_time"] = local_time
        return environment

    def render_email(self, message: str, locale: str, context: dict[str, Any]) -> RenderedEmail:
        subject = self._render(message, "email_subject.txt", locale, context).strip()
        if message not in self._single_body:
            return RenderedEmail(
                subject=subject,
                html=self._render(message, "email.html", locale, context),
                text=self._render(message, "email.txt", locale, context),
            )
        # Journey messages write their body once, as HTML; the layout and the plain-text
        # part come from it, so the two can never say different things.
        body = {**context, "subject": subject, "body": f"{message}/body.html"}
        return RenderedEmail(
            subject=subject,
            html=self._render_template("_journey/email.html", locale, body),
            text=html_to_text(self._render_template("_journey/email_text.html", locale, body)),
        )

    def render_sms(self, message: str, locale: str, context: dict[str, Any]) -> RenderedSms:
        return RenderedSms(body=self._render(message, "sms.txt", locale, context).strip())

    def render_page(self, page: str, locale: str, context: dict[str, Any]) -> str:
        """A page fans see on the web (preferences), in their language."""
        return self._render_template(f"_pages/{page}.html", locale, context)

    def translate(self, text: str, locale: str) -> str:
        """One catalog string, for replies that are not templates (an SMS HELP answer)."""
        translations = self._translations.get(locale, self._translations[DEFAULT_LOCALE])
        return str(translations.gettext(text))

    def _render(self, message: str, part: str, locale: str, context: dict[str, Any]) -> str:
        if message not in MESSAGES:
            raise UnknownMessageError(f"no message named {message!r} in the library")
        return self._render_template(f"{message}/{part}", locale, context)

    def _render_template(self, name: str, locale: str, context: dict[str, Any]) -> str:
        if locale not in self._translations:
            locale = DEFAULT_LOCALE
        template = self._environments[locale, name.endswith(".html")].get_template(name)
        direction = "rtl" if locale in RIGHT_TO_LEFT_LOCALES else "ltr"
        # Only marketing email has an unsubscribe link; every other render leaves it out.
        context = {"unsubscribe_url": None, **context}
        return str(template.render(locale=locale, text_direction=direction, **context))
