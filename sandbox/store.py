"""What the sandbox received, and the faults it was asked to inject."""

import random
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class ReceivedMessage:
    id: int
    channel: str
    to: str
    sender: str
    provider_message_id: str
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    custom_args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    received_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


@dataclass
class Fault:
    """Answer `status` to the next `times` requests, or to a `rate` share of them."""

    status: int
    times: int | None = None
    rate: float | None = None
    retry_after_seconds: int = 1

    def fires(self, chance: random.Random) -> bool:
        if self.times is not None:
            if self.times <= 0:
                return False
            self.times -= 1
            return True
        return self.rate is not None and chance.random() < self.rate


class SandboxStore:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._faults: dict[str, Fault] = {}
        # Seconds a provider waits after accepting a request and before answering it: widens
        # the window where a client crash leaves it unsure whether the message went.
        self.latency: dict[str, float] = {}
        self._chance = random.Random(seed)

    def add(self, **fields: Any) -> ReceivedMessage:
        with self._lock:
            message = ReceivedMessage(id=len(self._messages) + 1, **fields)
            self._messages.append(message)
            return message

    def messages(self, to: str | None = None) -> list[ReceivedMessage]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._faults.clear()
            self.latency.clear()

    def set_fault(self, provider: str, fault: Fault | None) -> None:
        with self._lock:
            if fault is None:
                self._faults.pop(provider, None)
            else:
                self._faults[provider] = fault

    def injected_fault(self, provider: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(provider)
            return fault if fault is not None and fault.fires(self._chance) else None
