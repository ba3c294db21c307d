"""In-memory stand-ins for the unit tests of the use cases (never for integration tests)."""

from __future__ import annotations

from email.message import EmailMessage

from devstack.smtp_sink import parse_mail
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from notification_service.message import OutgoingMail


class RecordingSink:
    """The `EventSink` protocol: keeps every published payload."""

    def __init__(self, producer: str = "test") -> None:
        self.producer = producer
        self.published: list[EventPayload] = []

    async def publish(self, payload: EventPayload) -> EventEnvelope:
        self.published.append(payload)
        return EventEnvelope.wrap(payload, producer=self.producer)


class FakeMailer:
    """The `Mailer` protocol: records sent mails (and each read back as a message); raises
    `error` instead when one is set."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.sent: list[OutgoingMail] = []
        self.messages: list[EmailMessage] = []

    async def send(self, mail: OutgoingMail) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(mail)
        self.messages.append(parse_mail(mail.data))

    async def close(self) -> None:
        pass
