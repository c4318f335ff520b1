"""Search attributes that let an operator find any fan's run in the Temporal UI and CLI."""

from temporalio.common import SearchAttributeKey

FAN_ID = SearchAttributeKey.for_keyword("FanId")
JOURNEY = SearchAttributeKey.for_keyword("Journey")
JOURNEY_VERSION = SearchAttributeKey.for_int("JourneyVersion")
JOURNEY_STEP = SearchAttributeKey.for_keyword("JourneyStep")
LOCALE = SearchAttributeKey.for_keyword("Locale")
ZONE = SearchAttributeKey.for_keyword("Zone")
STATUS = SearchAttributeKey.for_keyword("Status")

ALL = (FAN_ID, JOURNEY, JOURNEY_VERSION, JOURNEY_STEP, LOCALE, ZONE, STATUS)
