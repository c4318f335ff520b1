"""What the real providers do after accepting a message: call back.

When configured (POST /api/webhooks), the sandbox posts SendGrid 'processed' and 'delivered'
events, signed with ECDSA like SendGrid's signed event webhook, and Twilio status callbacks to
each message's StatusCallback, signed with the account's auth token. Relay uses them as
delivery feedback and as proof of acceptance after a crash.
"""

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator


@dataclass
class WebhookConfig:
    sendgrid_event_url: str | None = None
    sendgrid_signing_key_pem: str | None = None
    twilio_auth_token: str | None = None


class WebhookSender:
    def __init__(self) -> None:
        self.config = WebhookConfig()
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def sendgrid_accepted(
        self, message_id: str, recipients: list[tuple[str, dict[str, str]]]
    ) -> None:
        if self.config.sendgrid_event_url and self.config.sendgrid_signing_key_pem:
            self._spawn(self._post_sendgrid(message_id, recipients))

    def twilio_accepted(self, callback: str | None, sid: str, to: str) -> None:
        if callback and self.config.twilio_auth_token:
            self._spawn(self._post_twilio(callback, sid, to))

    async def _post_sendgrid(
        self, message_id: str, recipients: list[tuple[str, dict[str, str]]]
    ) -> None:
        now = int(time.time())
        events = [
            {
                "event": kind,
                "email": address,
                "timestamp": now,
                "sg_event_id": uuid.uuid4().hex,
                "sg_message_id": f"{message_id}.{index}",
                **custom_args,
            }
            for index, (address, custom_args) in enumerate(recipients)
            for kind in ("processed", "delivered")
        ]
        body = json.dumps(events).encode()
        key = serialization.load_pem_private_key(
            (self.config.sendgrid_signing_key_pem or "").encode(), password=None
        )
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        stamp = str(now)
        signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256())))
        headers = {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": signature.decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }
        await _post(str(self.config.sendgrid_event_url), content=body, headers=headers)

    async def _post_twilio(self, callback: str, sid: str, to: str) -> None:
        form = {"MessageSid": sid, "MessageStatus": "sent", "To": to}
        signature = RequestValidator(self.config.twilio_auth_token).compute_signature(
            callback, form
        )
        await _post(callback, data=form, headers={"X-Twilio-Signature": signature})


async def _post(url: str, **request: Any) -> None:
    # Like the providers, keep retrying with backoff (SendGrid does for 24 hours; here about a
    # minute); a receiver that stays down longer misses the event.
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(8):
            try:
                if (await client.post(url, **request)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(min(0.2 * 2**attempt, 10))
