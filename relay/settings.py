"""All configuration, read from `RELAY_*` environment variables.

Every default makes the embedded run (`make run`) work on a fresh machine with no variable set.
"""

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from relay.db.urls import async_database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAY_", frozen=True)

    data_dir: Path = Path("data")
    # Empty means "a SQLite file in data_dir"; PostgreSQL as postgresql://user@host/db.
    database_url: str = ""

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Unset in the embedded run: `relay run` generates one and keeps it in data_dir.
    api_key: str = ""
    # Signs unsubscribe links; `relay run` generates one too. Keep it stable: links live long.
    secret_key: str = ""
    # Where fans and providers reach the API (unsubscribe links, webhook signatures).
    public_url: str = ""

    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8025
    # PEM private key the sandbox signs its SendGrid-style events with; `relay run` makes one
    # and gives the API its public half, so local runs get delivery feedback too.
    sandbox_webhook_signing_key: str = ""

    # Provider endpoints: empty means the local sandbox, so the real SDK path always runs.
    # Production: https://api.sendgrid.com and https://api.twilio.com.
    sendgrid_api_url: str = ""
    sendgrid_api_key: str = "SG.sandbox"
    email_from: str = "Relay <hello@fans.example.org>"
    twilio_api_url: str = ""
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "sandbox-token"
    sms_from: str = "+15005550006"
    provider_timeout_seconds: float = 10.0
    # SendGrid's signed event webhook: the verification key (base64 DER) from its settings.
    sendgrid_webhook_public_key: str = ""
    # After a provider call whose outcome is unknown, wait this long (counted from when the call
    # timed out) for a webhook proving the provider took the message before sending it again.
    delivery_evidence_seconds: float = 120.0
    # Webhooks older than this are refused as replays.
    webhook_max_age_seconds: int = 300

    # Messages a second each provider account takes; 0 sends as fast as the workers can (the
    # sandbox needs no pacing). Temporal's server paces each send queue for all workers.
    sendgrid_rate: float = Field(default=0.0, ge=0)
    twilio_rate: float = Field(default=0.0, ge=0)
    # The part of each provider's rate kept free for incident broadcasts: journey sends get the
    # rest, so an incident never waits for a backlog of journey sends, here or at the provider.
    urgent_share: float = Field(default=0.5, gt=0, lt=1)
    # Comma-separated task queues a `relay worker` process polls; empty: all of them. Keep
    # some processes for incidents alone (relay-broadcasts,relay-sends-urgent), so a storm of
    # journeys never slows a broadcast down.
    worker_task_queues: str = ""

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise ValueError("RELAY_SECRET_KEY must be set: it signs unsubscribe links")
        return self.secret_key

    @property
    def api_public_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def sendgrid_url(self) -> str:
        return self.sendgrid_api_url or self.sandbox_url

    @property
    def twilio_url(self) -> str:
        return self.twilio_api_url or self.sandbox_url

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL the API, the worker and the migrations all use."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'relay.db').resolve()}"
        return async_database_url(url)
