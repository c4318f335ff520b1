"""What the sandbox received, and the faults it was asked to inject."""

import asyncio
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
    # When the provider's answer went back; None while held, or if it never did (dropped).
    answered_at: str | None = None

    def answered(self) -> None:
        self.answered_at = datetime.now(UTC).isoformat()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


@dataclass
class Fault:
    """Answer `status` to the next `times` requests, or to a `rate` share of them; or, with
    `drop_connection`, take the message and close the connection without an answer (the
    sender cannot know it went). `to` limits the fault to one recipient."""

    status: int = 0
    times: int | None = None
    rate: float | None = None
    retry_after_seconds: int = 1
    drop_connection: bool = False
    to: str | None = None

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
        self._faults: dict[tuple[str, str | None], Fault] = {}
        # Seconds a provider waits after accepting a request and before answering it: widens
        # the window where a client crash leaves it unsure whether the message went.
        self.latency: dict[str, float] = {}
        # Per provider: answer this many more requests, then take later ones but hold their
        # answers until released: a crash then lands after a known part was answered.
        self._answers_left: dict[str, int] = {}
        self._released = asyncio.Event()
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
        self.release_answers()

    def set_fault(self, provider: str, fault: Fault | None, to: str | None = None) -> None:
        with self._lock:
            if fault is None:
                self._faults.pop((provider, to), None)
            else:
                self._faults[(provider, fault.to)] = fault

    def injected_fault(self, provider: str, to: str | None = None) -> Fault | None:
        with self._lock:
            for key in ((provider, to), (provider, None)):
                fault = self._faults.get(key)
                if fault is not None and fault.fires(self._chance):
                    return fault
            return None

    def hold_answers_after(self, provider: str, count: int) -> None:
        with self._lock:
            self._answers_left[provider] = count
            self._released = asyncio.Event()

    def release_answers(self) -> None:
        with self._lock:
            self._answers_left.clear()
            self._released.set()

    async def until_answer_allowed(self, provider: str) -> None:
        """Return at once, or once held answers are released."""
        with self._lock:
            left = self._answers_left.get(provider)
            if left is None:
                return
            self._answers_left[provider] = left - 1
            released = self._released
        if left <= 0:
            await released.wait()
