"""Task queue names: journeys (cheap decisions) apart from provider calls (rate limited)."""

JOURNEY_TASK_QUEUE = "relay-journeys"
SEND_TASK_QUEUE = "relay-sends"
# Incident broadcasts: their own workers, so a storm alert never queues behind journeys.
BROADCAST_TASK_QUEUE = "relay-broadcasts"
