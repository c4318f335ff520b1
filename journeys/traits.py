"""The PII-free snapshot of a fan that journeys branch on.

It is stored in workflow history, so it holds no email, phone or name: only what a predicate
needs and nothing that identifies a person.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Traits:
    locale: str
    zone: str
    time_zone: str
    country: str | None = None
    interests: list[str] = field(default_factory=list)
    # Consent purposes the fan has granted (see relay.db.models.ConsentPurpose).
    consents: list[str] = field(default_factory=list)
    # Channels with an address on file that is not suppressed.
    reachable_channels: list[str] = field(default_factory=list)
