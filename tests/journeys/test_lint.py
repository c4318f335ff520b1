"""`relay journeys lint`: the library as released passes; a gap in it is caught."""

import shutil
from pathlib import Path

from journeys.lint import lint
from journeys.rendering import LOCALE_DIR, TEMPLATES_DIR


def test_every_journey_message_renders_in_every_locale_and_zone_with_translations() -> None:
    report = lint()
    assert report.problems == []
    # 9 locales x 4 zones x 2 kinds of fan, for each channel of each message sent.
    assert report.renders > 1000


def _copy_library(tmp_path: Path) -> tuple[Path, Path]:
    templates, locales = tmp_path / "templates", tmp_path / "locale"
    shutil.copytree(TEMPLATES_DIR, templates)
    shutil.copytree(LOCALE_DIR, locales)
    return templates, locales


def test_a_missing_translation_fails_the_lint(tmp_path: Path) -> None:
    templates, locales = _copy_library(tmp_path)
    catalog = locales / "de" / "LC_MESSAGES" / "messages.po"
    text = catalog.read_text()
    entry = 'msgid "Your shift schedule"\nmsgstr "Ihr Schichtplan"\n'
    assert entry in text
    catalog.write_text(text.replace(entry, ""))

    report = lint(templates_dir=templates, locale_dir=locales)

    assert report.problems == ["missing translation (de): 'Your shift schedule'"]


def test_an_undefined_variable_fails_the_lint(tmp_path: Path) -> None:
    templates, locales = _copy_library(tmp_path)
    body = templates / "torch_logistics" / "body.html"
    body.write_text(body.read_text() + "<p>{{ relay_leg_number }}</p>\n")

    report = lint(templates_dir=templates, locale_dir=locales)

    assert report.problems
    assert all("'relay_leg_number' is undefined" in p for p in report.problems)
    assert all(p.startswith("torch_logistics (email,") for p in report.problems)
