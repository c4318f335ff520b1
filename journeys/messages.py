"""The message library: which messages exist and on which channels.

Each message has a folder under `templates/` with, per channel:
email: `email_subject.txt` and `body.html` (set in `_journey/email.html`; the text part is
made from it), or a full `email.html` and `email.txt`; sms: `sms.txt`.
Strings are English gettext msgids; translations live in `locale/<lang>/LC_MESSAGES/messages.po`.
"""

from dataclasses import dataclass
from datetime import datetime

from journeys.incidents import INCIDENT_MESSAGES


@dataclass(frozen=True)
class SessionView:
    """A ticketed session as a message shows it (times in the venue's own zone)."""

    id: str
    event_name: str
    venue: str | None
    time_zone: str
    starts_at: datetime
    gate: str | None


@dataclass(frozen=True)
class MessageSpec:
    name: str
    channels: frozenset[str]


EMAIL = frozenset({"email"})
EMAIL_AND_SMS = frozenset({"email", "sms"})

MESSAGES: dict[str, MessageSpec] = {
    spec.name: spec
    for spec in (
        MessageSpec("club_welcome", EMAIL),
        MessageSpec("club_sports_nudge", EMAIL_AND_SMS),
        MessageSpec("club_sport_news", EMAIL),
        MessageSpec("club_legacy_consent", EMAIL),
        MessageSpec("lottery_registered", EMAIL),
        MessageSpec("lottery_selected", EMAIL_AND_SMS),
        MessageSpec("purchase_reminder", EMAIL_AND_SMS),
        MessageSpec("purchase_confirmed", EMAIL),
        MessageSpec("beneficiaries_reminder", EMAIL),
        MessageSpec("lottery_not_selected", EMAIL),
        MessageSpec("flash_sales_open", EMAIL_AND_SMS),
        MessageSpec("previsit_practical", EMAIL),
        MessageSpec("previsit_transport", EMAIL),
        MessageSpec("previsit_reminder", EMAIL_AND_SMS),
        MessageSpec("previsit_survey", EMAIL),
        MessageSpec("volunteer_received", EMAIL),
        MessageSpec("volunteer_interviewed", EMAIL),
        MessageSpec("volunteer_accepted", EMAIL),
        MessageSpec("volunteer_declined", EMAIL),
        MessageSpec("volunteer_training", EMAIL),
        MessageSpec("volunteer_uniform", EMAIL),
        MessageSpec("volunteer_shifts", EMAIL),
        MessageSpec("volunteer_thanks", EMAIL),
        MessageSpec("torch_received", EMAIL),
        MessageSpec("torch_selected", EMAIL_AND_SMS),
        MessageSpec("torch_waitlisted", EMAIL),
        MessageSpec("torch_logistics", EMAIL),
        MessageSpec("torch_lapsed", EMAIL),
        MessageSpec("torch_consolation", EMAIL),
        *(MessageSpec(name, EMAIL_AND_SMS) for name in INCIDENT_MESSAGES),
    )
}
