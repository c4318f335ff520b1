"""Task queue names, and which queue and priority a send takes.

Journeys (cheap decisions) run apart from provider calls. The server paces each send queue at
its provider's rate for all workers together (`max_task_queue_activities_per_second`), so
provider calls are split by provider, and incident pages have a queue of their own.
"""

from temporalio.common import Priority

JOURNEY_TASK_QUEUE = "relay-journeys"
# Incident broadcasts: their own workers, so a storm alert never queues behind journeys.
BROADCAST_TASK_QUEUE = "relay-broadcasts"

# Journey sends, one message each, on the queue of their first channel's provider.
EMAIL_SEND_TASK_QUEUE = "relay-sends-email"
SMS_SEND_TASK_QUEUE = "relay-sends-sms"
# Incident pages (up to a page of messages each): their own rate and worker slots, so they
# never wait behind journey sends.
URGENT_SEND_TASK_QUEUE = "relay-sends-urgent"
# Every send went here before sends were paced; still served, so what was scheduled on it
# before an upgrade (and its retries) goes out.
LEGACY_SEND_TASK_QUEUE = "relay-sends"

_SEND_TASK_QUEUES = {"email": EMAIL_SEND_TASK_QUEUE, "sms": SMS_SEND_TASK_QUEUE}
# Lower goes first when a queue has a backlog: urgent before service before marketing.
_PRIORITIES = {"urgent": 1, "service": 2, "marketing": 3}


def send_task_queue(channel: str) -> str:
    return _SEND_TASK_QUEUES[channel]


def send_priority(category: str) -> Priority:
    return Priority(priority_key=_PRIORITIES[category])
