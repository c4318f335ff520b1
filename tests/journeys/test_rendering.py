"""Rendering library messages: languages, fallback, escaping, strictness."""

import shutil
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from journeys.incidents import INCIDENT_MESSAGES, example_context
from journeys.lint import SampleFan, sample_context
from journeys.locales import SUPPORTED_LOCALES
from journeys.messages import MESSAGES
from journeys.rendering import LOCALE_DIR, MessageRenderer, UnknownMessageError

renderer = MessageRenderer()


def test_french_fans_read_french() -> None:
    email = renderer.render_email("club_welcome", "fr", {"first_name": "Zoé"})
    assert email.subject == "Bienvenue au Club des fans"
    assert "Bienvenue, Zoé !" in email.html and "Bienvenue, Zoé !" in email.text
    assert '<html lang="fr" dir="ltr">' in email.html


def test_a_string_missing_from_a_catalog_falls_back_to_english(tmp_path: Path) -> None:
    locales = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locales)
    catalog = locales / "ja" / "LC_MESSAGES" / "messages.po"
    entry = 'msgid "Welcome to the Fan Club"\nmsgstr "ファンクラブへようこそ"\n'
    catalog.write_text(catalog.read_text().replace(entry, ""))

    email = MessageRenderer(locale_dir=locales).render_email(
        "club_welcome", "ja", {"first_name": None}
    )

    assert email.subject == "Welcome to the Fan Club"
    assert '<html lang="ja"' in email.html
    assert "ようこそ！" in email.html  # noqa: RUF001 (the rest stays Japanese)


def test_an_unsupported_locale_reads_english() -> None:
    email = renderer.render_email("club_welcome", "ko", {"first_name": None})
    assert email.subject == "Welcome to the Fan Club"


def test_arabic_email_is_laid_out_right_to_left() -> None:
    assert 'dir="rtl"' in renderer.render_email("club_welcome", "ar", {"first_name": None}).html


def test_a_name_is_escaped_in_html_and_left_as_written_in_text() -> None:
    email = renderer.render_email("club_welcome", "en", {"first_name": "<script>x</script>"})
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "<script>x</script>" in email.text


def test_a_missing_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(UndefinedError):
        renderer.render_email("club_welcome", "en", {})


def test_an_unknown_message_is_refused() -> None:
    with pytest.raises(UnknownMessageError):
        renderer.render_sms("no_such_message", "en", {})


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_every_message_renders_on_each_of_its_channels_in_every_locale(
    message: str, locale: str
) -> None:
    context = (
        example_context(message)
        if message in INCIDENT_MESSAGES
        else sample_context(SampleFan(locale, "elsewhere", "Alex", ()))
    )
    for channel in MESSAGES[message].channels:
        if channel == "email":
            email = renderer.render_email(message, locale, context)
            assert email.subject and email.html and email.text
        else:
            assert renderer.render_sms(message, locale, context).body


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
# The operator notice is free text that operators write per language themselves.
@pytest.mark.parametrize("message", sorted(set(INCIDENT_MESSAGES) - {"incident_operator_notice"}))
def test_every_incident_message_is_translated_in_every_locale(message: str, locale: str) -> None:
    translated = renderer.render_sms(message, locale, example_context(message)).body
    english = renderer.render_sms(message, "en", example_context(message)).body
    assert translated != english


PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("locale", ["en", "fr", "ar"])
@pytest.mark.parametrize("message", sorted(INCIDENT_MESSAGES))
def test_outside_text_in_an_incident_is_escaped_in_html_and_plain_in_text_and_sms(
    message: str, locale: str
) -> None:
    context = example_context(message)
    # Every field an incident or a session can carry, from the operator or from ticketing.
    outside = {name: PAYLOAD for name, value in context.items() if isinstance(value, str)}
    outside.pop("time_zone")
    parameters = {
        name: PAYLOAD if isinstance(value, str) and name != "new_start" else value
        for name, value in context["parameters"].items()
    }
    context |= outside | {"parameters": parameters}
    context |= {name: value for name, value in parameters.items() if name != "new_start"}

    email = renderer.render_email(message, locale, context)
    sms = renderer.render_sms(message, locale, context)

    assert "<img" not in email.html and "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert PAYLOAD in email.subject and PAYLOAD in email.text and PAYLOAD in sms.body
    assert "&lt;" not in email.text + email.subject + sms.body
