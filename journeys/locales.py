"""The edition's languages and residence zones."""

SUPPORTED_LOCALES = ("fr", "en", "es", "de", "it", "pt", "ar", "zh", "ja")
RIGHT_TO_LEFT_LOCALES = frozenset({"ar"})

# Residence zones decide content variants (visa information, for example).
FRANCE = "france"
EU = "eu"
SCHENGEN = "schengen"
ELSEWHERE = "elsewhere"

_EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
# Schengen members outside the EU.
_SCHENGEN_ONLY = frozenset("IS LI NO CH".split())


def residence_zone(country: str | None) -> str:
    if country == "FR":
        return FRANCE
    if country in _EU_COUNTRIES:
        return EU
    if country in _SCHENGEN_ONLY:
        return SCHENGEN
    return ELSEWHERE
