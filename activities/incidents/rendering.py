"""What an incident says, to whom, on which channel: one rendered body per group of fans.

One body per (channel, locale, time zone, session, gate): SMS are rendered per gate; email
shares one body across gates, and SendGrid puts each recipient's gate in by substitution.
"""

import html
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from activities import audience
from activities.incidents.claims import Delivery
from journeys.incidents import template_values
from journeys.rendering import RenderedEmail
from relay.db.models import Incident

# Email groups share one body across gates: SendGrid puts each recipient's gate in. SendGrid
# substitutes the same key in every part, so the HTML part and the plain parts (subject, text)
# each get a key of their own: the gate escaped for HTML, and as written for text. Neither key
# is a prefix of the other, or one substitution would eat into the other.
GATE_PLACEHOLDER = "-relay-gate-html-"
GATE_TEXT_PLACEHOLDER = "-relay-text-gate-"


def choose_channel(
    incident: Incident, holder: audience.HolderContext, suppressed: set[tuple[str, str]]
) -> tuple[str, str] | None:
    """The incident's first channel this fan can be reached on, with the address."""
    for channel in incident.channels:
        address = holder.email if channel == "email" else holder.phone
        if address and (channel, address) not in suppressed:
            return channel, address
    return None


def groups(deliveries: Sequence[Delivery]) -> list[list[Delivery]]:
    """Fans who read the same rendered body, together."""
    grouped: dict[tuple[Any, ...], list[Delivery]] = defaultdict(list)
    for d in deliveries:
        h = d.holder
        gate = h.gate if d.channel == "sms" else h.gate is not None
        grouped[(d.channel, h.locale, h.time_zone, h.session_id, gate)].append(d)
    return list(grouped.values())


def group_context(incident: Incident, group: Sequence[Delivery]) -> dict[str, Any]:
    """What the templates see for a group (its first member stands for all)."""
    first = group[0]
    gate = first.holder.gate
    if first.channel == "email" and gate is not None:
        gate = GATE_PLACEHOLDER
    return {
        "event_name": first.holder.event_name,
        "venue": first.holder.venue,
        "starts_at": first.holder.starts_at,
        "time_zone": first.holder.time_zone,
        "gate": gate,
        "parameters": incident.parameters,
        **template_values(incident.message, incident.parameters),
    }


def with_text_gate(email: RenderedEmail) -> RenderedEmail:
    """The email rendered with GATE_PLACEHOLDER, its plain parts keyed for the plain gate."""
    return RenderedEmail(
        subject=email.subject.replace(GATE_PLACEHOLDER, GATE_TEXT_PLACEHOLDER),
        html=email.html,
        text=email.text.replace(GATE_PLACEHOLDER, GATE_TEXT_PLACEHOLDER),
    )


def gate_substitutions(gate: str | None) -> dict[str, str]:
    """One recipient's gate for both keys (an empty dict when they have none)."""
    return {GATE_PLACEHOLDER: html.escape(gate), GATE_TEXT_PLACEHOLDER: gate} if gate else {}
