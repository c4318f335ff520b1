"""Incident broadcasts: plan pages of ticket holders, send each page in groups, once.

`activity` holds the activities; `rendering` decides each fan's channel and renders one body
per group; `claims` is the incident's side of the ledger (reserve, claim, settle); `sms` and
`email` talk to the providers. Paging through the audience lives in `activities/audience.py`.
"""

from activities.incidents.activity import IncidentActivities
from activities.incidents.claims import incident_key

__all__ = ["IncidentActivities", "incident_key"]
