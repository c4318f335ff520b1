"""The message library: which messages exist and on which channels.

Each message has a folder under `templates/` with, per channel:
email: `email_subject.txt`, `email.html`, `email.txt`; sms: `sms.txt`.
Strings are English gettext msgids; translations live in `locale/<lang>/LC_MESSAGES/messages.po`.
"""

from dataclasses import dataclass

from journeys.incidents import INCIDENT_MESSAGES


@dataclass(frozen=True)
class MessageSpec:
    name: str
    channels: frozenset[str]


MESSAGES: dict[str, MessageSpec] = {
    spec.name: spec
    for spec in (
        MessageSpec("club_welcome", frozenset({"email"})),
        MessageSpec("club_sports_nudge", frozenset({"email", "sms"})),
        *(MessageSpec(name, frozenset({"email", "sms"})) for name in INCIDENT_MESSAGES),
    )
}
