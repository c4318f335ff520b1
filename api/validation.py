"""Field validators shared by request schemas: E.164 phones, locales, zones, countries."""

from functools import cache
from zoneinfo import available_timezones

import phonenumbers
from babel import Locale

from journeys.locales import SUPPORTED_LOCALES


def e164_phone(value: str) -> str:
    if not value.startswith("+"):
        raise ValueError(f"{value!r} is not in E.164 form: write it as + country code + number")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"{value!r} is not a phone number: {error}") from None
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_possible_number(number) or formatted != value:
        raise ValueError(f"{value!r} is not a valid E.164 phone number (like +33612345678)")
    return value


def supported_locale(value: str) -> str:
    if value not in SUPPORTED_LOCALES:
        raise ValueError(f"unknown locale {value!r}; supported: {', '.join(SUPPORTED_LOCALES)}")
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def iana_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris")
    return value


@cache
def _countries() -> frozenset[str]:
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha())


def iso_country(value: str) -> str:
    if value not in _countries():
        raise ValueError(f"unknown country {value!r}; use an ISO 3166 alpha-2 code like FR")
    return value
