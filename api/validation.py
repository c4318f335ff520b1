"""Field validators shared by request schemas: E.164 phones, locales, zones, countries."""

from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import phonenumbers
import pycountry

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
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def iana_time_zone(value: str) -> str:
    if value not in time_zones():
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris")
    return value


@cache
def countries() -> frozenset[str]:
    # ISO 3166-1 itself: Babel's territories also hold regions and private codes (EU, ZZ, XA).
    return frozenset(country.alpha_2 for country in pycountry.countries)


# RFC 5321: a mailbox's local part holds at most 64 octets; no mail server takes a longer one.
MAX_LOCAL_PART = 64


def mailbox_length(value: str) -> str:
    local_part = value.rsplit("@", 1)[0]
    if len(local_part.encode()) > MAX_LOCAL_PART:
        raise ValueError(
            f"the part before @ is {len(local_part.encode())} bytes; at most {MAX_LOCAL_PART}"
        )
    return value


def iso_country(value: str) -> str:
    if value not in countries():
        raise ValueError(f"unknown country {value!r}; use an ISO 3166 alpha-2 code like FR")
    return value


def duplicates(ids: Iterable[str]) -> list[str]:
    """Ids given more than once, sorted: a batch that names one twice is ambiguous."""
    return sorted(id_ for id_, count in Counter(ids).items() if count > 1)


def allowed(values: Iterable[str]) -> dict[str, Any]:
    """The values a field takes, for the OpenAPI document (its validator explains refusals)."""
    return {"enum": sorted(values)}
