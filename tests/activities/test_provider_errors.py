"""How provider errors are classified: retry, or give up (and maybe suppress)."""

import json
import time

import pytest

from activities.providers.email import classify_sendgrid_error
from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from activities.providers.sms import classify_twilio_error


def sendgrid_body(message: str, field: str | None = None) -> bytes:
    return json.dumps({"errors": [{"message": message, "field": field}]}).encode()


@pytest.mark.parametrize("status", [401, 403, 500, 502, 503])
def test_sendgrid_outages_and_our_own_bad_key_are_retried(status: int) -> None:
    assert isinstance(
        classify_sendgrid_error(status, sendgrid_body("x"), {}), ProviderUnavailableError
    )


def test_sendgrid_rate_limit_waits_for_the_reset_time() -> None:
    reset = {"X-RateLimit-Reset": str(int(time.time()) + 60)}
    error = classify_sendgrid_error(429, sendgrid_body("too many"), reset)
    assert isinstance(error, ProviderUnavailableError) and error.retry_after is not None
    assert 50 <= error.retry_after.total_seconds() <= 61


def test_a_sendgrid_payload_error_is_permanent_but_does_not_blame_the_address() -> None:
    error = classify_sendgrid_error(413, sendgrid_body("too large"), {})
    assert isinstance(error, ProviderRejectedError) and not error.suppress_address


def test_a_sendgrid_bad_recipient_is_permanent_and_suppresses() -> None:
    body = sendgrid_body("Does not contain a valid address.", "personalizations.0.to.0.email")
    error = classify_sendgrid_error(400, body, {})
    assert isinstance(error, ProviderRejectedError) and error.suppress_address


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, None), (401, 20003)])
def test_twilio_throttling_outages_and_auth_are_retried(status: int, code: int | None) -> None:
    assert isinstance(classify_twilio_error(status, code, "x"), ProviderUnavailableError)


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_twilio_recipient_errors_suppress_the_number(code: int) -> None:
    error = classify_twilio_error(400, code, "x")
    assert isinstance(error, ProviderRejectedError) and error.suppress_address


def test_twilio_sender_errors_fail_the_message_without_blaming_the_fan() -> None:
    error = classify_twilio_error(400, 21606, "bad From")
    assert isinstance(error, ProviderRejectedError) and not error.suppress_address
