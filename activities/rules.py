"""Category rules: may this message go to this fan on this channel right now?

Invariant 4: marketing needs consent and obeys caps and quiet hours; service obeys quiet hours
and dedup; urgent bypasses both. Suppression and withdrawn consent hold for every category.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from activities.fans import address_on
from journeys import pressure
from relay.db.models import Category, Channel, ConsentPurpose, Fan

_MARKETING_CONSENT = {
    Channel.EMAIL: ConsentPurpose.EMAIL_MARKETING,
    Channel.SMS: ConsentPurpose.SMS_MARKETING,
}


def why_not_send(fan: Fan, channel: str, category: str, suppressed: set[str]) -> str | None:
    """The reason this send must be skipped on this channel, or None when it may go."""
    if not address_on(fan, channel):
        return f"no_{channel}_address"
    if channel in suppressed:
        return "address_suppressed"
    purpose = _MARKETING_CONSENT[Channel(channel)]
    if category == Category.MARKETING and not fan.has_consent(purpose):
        return f"no_{purpose.value}_consent"
    return None


@dataclass(frozen=True)
class Pressure:
    reason: str
    retry_at: datetime


def pressure_on(
    fan: Fan,
    channel: str,
    category: str,
    now: datetime,
    counted: list[tuple[datetime, str]],
    quiet_zone: str | None = None,
) -> Pressure | None:
    """Quiet hours and caps: when they hold this message back, why and until when.

    Quiet hours keep the fan's home zone unless `quiet_zone` names where the fan is (the
    venue); caps count the fan's own calendar days wherever they are.
    """
    if category == Category.URGENT:
        return None
    zone = ZoneInfo(fan.time_zone)
    held: list[Pressure] = []
    quiet = pressure.QUIET_HOURS.get((category, channel))
    if quiet is not None:
        until = pressure.quiet_until(now, ZoneInfo(quiet_zone or fan.time_zone), quiet)
        if until is not None:
            held.append(Pressure("quiet_hours", until))
    if category == Category.MARKETING:
        capped = pressure.caps_deferral(now, zone, channel, counted)
        if capped is not None:
            held.append(Pressure(f"cap:{capped[0]}", capped[1]))
    if not held:
        return None
    return Pressure("+".join(p.reason for p in held), max(p.retry_at for p in held))
