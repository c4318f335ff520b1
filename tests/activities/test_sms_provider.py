"""The Twilio adapter against the sandbox: every call has a real timeout, and a 429's
Retry-After reaches Temporal's retry."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from activities.providers.errors import ProviderUnavailableError
from activities.providers.sms import OutgoingSms, TwilioSmsProvider
from tests.conftest import Sandbox, unique_phone


@pytest.fixture
async def twilio(sandbox: Sandbox) -> AsyncIterator[TwilioSmsProvider]:
    provider = TwilioSmsProvider(sandbox.url, "AC" + "0" * 32, "token", "+15005550006", 0.5)
    try:
        yield provider
    finally:
        await provider.close()
        async with httpx.AsyncClient(base_url=sandbox.url) as control:
            await control.post("/api/faults", json={"provider": "twilio", "latency_ms": 0})


async def test_a_twilio_answer_slower_than_the_timeout_times_out_and_leaves_the_sms_in_doubt(
    twilio: TwilioSmsProvider, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    async with httpx.AsyncClient(base_url=sandbox.url) as control:
        await control.post("/api/faults", json={"provider": "twilio", "latency_ms": 3000})
    with pytest.raises(ProviderUnavailableError) as raised:
        await twilio.send(OutgoingSms(phone, "Gate K"))
    # Twilio took it but never said so: a retry must wait for evidence first.
    assert raised.value.maybe_accepted
    assert len(sandbox.received_by(phone)) == 1


async def test_a_twilio_429_waits_as_long_as_its_retry_after_says(
    twilio: TwilioSmsProvider, sandbox: Sandbox
) -> None:
    phone = unique_phone()
    async with httpx.AsyncClient(base_url=sandbox.url) as control:
        fault = {"provider": "twilio", "status": 429, "times": 1, "to": phone}
        await control.post("/api/faults", json={**fault, "retry_after_seconds": 7})
    with pytest.raises(ProviderUnavailableError) as raised:
        await twilio.send(OutgoingSms(phone, "Gate K"))
    assert raised.value.retry_after == timedelta(seconds=7)
    assert not raised.value.maybe_accepted  # a 429 was never processed: safe to resend
    assert sandbox.received_by(phone) == []
