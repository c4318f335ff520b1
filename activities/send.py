"""The send activity: one message to one fan, through the ledger, exactly once.

Contact details are read here and nowhere else on the workflow side, so they never enter
workflow history. The decision (rules, caps, quiet hours) and the ledger reservation happen
under a per-fan lock; the provider call happens after, outside it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import ledger
from activities.contracts import FAN_ERASED, GiveUpInput, SendInput, SendOutput
from activities.fans import address_on, suppressed_channels
from activities.message_context import journey_context
from activities.providers.email import OutgoingEmail, Recipient, SendGridEmailProvider
from activities.providers.errors import ProviderRejectedError, ProviderUnavailableError
from activities.providers.sms import OutgoingSms, TwilioSmsProvider
from activities.rules import pressure_on, why_not_send
from journeys.rendering import MessageRenderer
from relay.db.models import Category, Channel, Fan, Message, MessageStatus, utcnow
from relay.preferences_links import preferences_token, unsubscribe_url

RENDER_ERROR = "render_error"


@dataclass(frozen=True)
class SendSettings:
    """Links (unsubscribe, status callbacks) and how long to wait for delivery evidence."""

    public_url: str
    secret_key: str
    # After an attempt whose outcome is unknown (the worker died, the connection dropped), how
    # long to wait for a webhook proving the provider took it before sending again.
    evidence_window: timedelta = timedelta(seconds=120)


@dataclass(frozen=True)
class _Cleared:
    """A ledger row reserved for a channel, with its address and the rendered message."""

    row: Message
    address: str
    outgoing: OutgoingSms | OutgoingEmail


class SendActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        renderer: MessageRenderer,
        email: SendGridEmailProvider,
        sms: TwilioSmsProvider,
        settings: SendSettings,
    ) -> None:
        self._sessions = sessions
        self.renderer = renderer
        self.email = email
        self.sms = sms
        self.settings = settings

    async def close(self) -> None:
        await self.sms.close()

    @activity.defn
    async def send_message(self, input: SendInput) -> SendOutput:
        # The rules' clock is the server's time of this attempt: the workflow's clock, which
        # is also the one the time-skipping test server moves.
        now = activity.info().current_attempt_scheduled_time
        outcome = SendOutput(ledger_id=None, status="skipped", reason="no_channel")
        for channel in (input.channel, *input.fallback_channels):
            outcome = await self._send_on(input, channel, now)
            if outcome.status not in (MessageStatus.SKIPPED, MessageStatus.FAILED):
                return outcome
        return outcome

    @activity.defn
    async def give_up_message(self, input: GiveUpInput) -> SendOutput:
        """Temporal gave up retrying this send: its unsettled rows fail with the reason, so
        the ledger has a verdict and the journey can go on. A row a webhook has meanwhile
        proved sent is settled already and keeps its verdict."""
        keys = [
            f"{input.send.key}:{c}" for c in (input.send.channel, *input.send.fallback_channels)
        ]
        async with self._sessions() as session:
            await ledger.fail_unsettled(session, keys, input.reason)
        return SendOutput(ledger_id=None, status=MessageStatus.FAILED, reason=input.reason)

    async def _send_on(self, input: SendInput, channel: str, now: datetime) -> SendOutput:
        async with self._sessions() as session:
            cleared = await self._decide(session, input, channel, now)
            if isinstance(cleared, SendOutput):
                return cleared
            try:
                provider_id = await self._deliver(cleared.outgoing)
            except ProviderRejectedError as rejected:
                await ledger.settle(
                    session, cleared.row, MessageStatus.FAILED, reason=rejected.reason
                )
                if rejected.suppress_address:
                    await ledger.suppress(session, channel, cleared.address, rejected.reason)
                return _output(cleared.row)
            except ProviderUnavailableError as unavailable:
                if not unavailable.maybe_accepted:
                    await ledger.not_attempted(session, [cleared.row.id])
                raise ApplicationError(
                    unavailable.reason,
                    type="ProviderUnavailable",
                    next_retry_delay=unavailable.retry_after,
                ) from unavailable
            await ledger.settle(
                session, cleared.row, MessageStatus.SENT, provider_message_id=provider_id
            )
            return _output(cleared.row)

    async def _decide(
        self, session: AsyncSession, input: SendInput, channel: str, now: datetime
    ) -> SendOutput | _Cleared:
        """Skip, defer, or reserve: one transaction holding the fan's lock."""
        await ledger.lock_fan(session, input.fan_id)
        fan = await session.get(Fan, input.fan_id)
        if fan is None:
            await session.rollback()
            return SendOutput(ledger_id=None, status="skipped", reason=FAN_ERASED)
        row = await ledger.find_or_create(
            session, input, f"{input.key}:{channel}", channel, fan.locale
        )
        if row.status in ledger.SETTLED:
            # A retry of an attempt that already reached a verdict: never send twice.
            await session.commit()
            return _output(row)
        ledger.raise_if_in_doubt([row], self.settings.evidence_window)
        skip = self._why_skip(input, fan, channel, now, await suppressed_channels(session, fan))
        if skip is None and row.status != MessageStatus.RESERVED:
            pressured = await self._apply_pressure(session, input, row, fan, now)
            if isinstance(pressured, SendOutput):
                return pressured
            skip = pressured
        if skip is not None:
            await ledger.settle(session, row, MessageStatus.SKIPPED, reason=skip)
            return _output(row)
        address = address_on(fan, channel)
        assert address is not None
        outgoing = await self._compose(session, input, fan, row, address)
        if outgoing is None:
            await ledger.settle(session, row, MessageStatus.FAILED, reason=RENDER_ERROR)
            return _output(row)
        # Reserved and counted before the provider call: a concurrent send now sees it.
        row.status, row.decided_at, row.deferred_until = MessageStatus.RESERVED.value, now, None
        row.attempted_at = utcnow()
        await session.commit()
        return _Cleared(row, address, outgoing)

    @staticmethod
    def _why_skip(
        input: SendInput, fan: Fan, channel: str, now: datetime, suppressed: set[str]
    ) -> str | None:
        if input.send_before is not None and now > input.send_before:
            return "expired"
        return why_not_send(fan, channel, input.category, suppressed)

    async def _apply_pressure(
        self, session: AsyncSession, input: SendInput, row: Message, fan: Fan, now: datetime
    ) -> SendOutput | str | None:
        """None to go on; a skip reason; or the output of a deferral."""
        if input.category == Category.SERVICE and await ledger.is_duplicate_service(
            session, row, now
        ):
            return "duplicate"
        counted = await ledger.counted_for_caps(session, fan.id, now, row.key)
        held = pressure_on(fan, row.channel, input.category, now, counted, input.quiet_hours_zone)
        if held is None:
            return None
        too_late = input.send_before is not None and held.retry_at > input.send_before
        if input.on_pressure == "skip" or too_late:
            return held.reason
        await ledger.defer(session, row, held.reason, held.retry_at)
        return _output(row)

    async def _compose(
        self, session: AsyncSession, input: SendInput, fan: Fan, row: Message, address: str
    ) -> OutgoingSms | OutgoingEmail | None:
        """The message ready for the provider, or None when its template cannot render.

        Rendered before the row is reserved: a template error is a verdict at once, never an
        attempt "in doubt" retried for a day.
        """
        context = await journey_context(session, fan, input.parameters)
        headers: dict[str, str] = {}
        if row.channel == Channel.EMAIL and input.category == Category.MARKETING:
            link = unsubscribe_url(
                self.settings.public_url, preferences_token(self.settings.secret_key, fan.id)
            )
            context["unsubscribe_url"] = link
            # RFC 8058 one-click unsubscribe, which mail clients show as a button.
            headers = {
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        try:
            if row.channel == Channel.SMS:
                sms = self.renderer.render_sms(input.message, fan.locale, context)
            else:
                email = self.renderer.render_email(input.message, fan.locale, context)
        except Exception as error:
            # Rendering is a pure function of the template and this context: whatever it
            # raised (an undefined variable, a missing template, a filter refusing a value)
            # it would raise again on every retry.
            activity.logger.warning(
                "message %s (ledger %s) cannot render: %r", input.message, row.id, error
            )
            return None
        if row.channel == Channel.SMS:
            callback = f"{self.settings.public_url}/v1/webhooks/twilio/status?message_id={row.id}"
            return OutgoingSms(to=address, body=sms.body, status_callback=callback)
        recipient = Recipient(
            address,
            {"relay_message_id": str(row.id), "journey": input.journey, "message": input.message},
        )
        return OutgoingEmail([recipient], email.subject, email.html, email.text, headers)

    async def _deliver(self, outgoing: OutgoingSms | OutgoingEmail) -> str:
        if isinstance(outgoing, OutgoingSms):
            return await self.sms.send(outgoing)
        return await self.email.send(outgoing)


def _output(row: Message) -> SendOutput:
    return SendOutput(
        ledger_id=row.id,
        status=row.status,
        reason=row.reason if row.status != MessageStatus.DEFERRED else row.deferral_reason,
        channel=row.channel,
        retry_at=row.deferred_until,
    )
