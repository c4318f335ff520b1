"""The provider sandbox answers like the real APIs and shows what it received."""

import uuid

import httpx
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Sandbox, unique_phone


def twilio_client(sandbox: Sandbox) -> Client:
    client = Client("AC" + "0" * 32, "token")
    client.api.base_url = sandbox.url
    return client


def test_the_inbox_page_shows_an_email_as_a_person_reads_it(sandbox: Sandbox) -> None:
    address = f"reader-{uuid.uuid4().hex[:8]}@example.org"
    mail = Mail("hello@example.org", address, "Gate change <B>", html_content="<p>Gate B</p>")
    response = SendGridAPIClient("SG.key", host=sandbox.url).send(mail)
    assert response.status_code == 202 and response.headers["X-Message-Id"]
    page = httpx.get(sandbox.url).text
    assert address in page and "Gate change &lt;B&gt;" in page
    assert 'srcdoc="&lt;p&gt;Gate B&lt;/p&gt;"' in page


def test_the_json_api_lists_what_was_received(sandbox: Sandbox) -> None:
    phone = unique_phone()
    twilio_client(sandbox).messages.create(to=phone, from_="+15005550006", body="Hello")
    [message] = httpx.get(f"{sandbox.url}/api/messages", params={"to": phone}).json()
    assert {k: message[k] for k in ("channel", "to", "from", "text")} == {
        "channel": "sms",
        "to": phone,
        "from": "+15005550006",
        "text": "Hello",
    }
    assert message["received_at"]


def test_twilio_errors_carry_twilio_codes(sandbox: Sandbox) -> None:
    client = twilio_client(sandbox)
    try:
        client.messages.create(to="+15005550004", from_="+15005550006", body="Hi")
    except TwilioRestException as error:
        assert (error.status, error.code) == (400, 21610)
    else:
        raise AssertionError("the STOP test number was accepted")


def test_sendgrid_refuses_a_request_without_a_key(sandbox: Sandbox) -> None:
    response = httpx.post(f"{sandbox.url}/v3/mail/send", json={})
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"]
