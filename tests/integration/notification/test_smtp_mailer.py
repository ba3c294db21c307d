"""The SMTP mailer against a real SMTP server: connections are kept open between mails, each
concurrent sender gets one of its own, and a connection the server dropped is replaced
without losing or doubling a mail."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest
from devstack.smtp_sink import SmtpSink
from notification_service.mailer import SmtpMailer
from notification_service.message import MailComposer, OutgoingMail

pytestmark = pytest.mark.integration


COMPOSER = MailComposer("Mentorship <noreply@example.com>")


def mail(number: int, *, name: str = "Person", address: str | None = None) -> OutgoingMail:
    return COMPOSER.compose(
        to_name=name,
        to_address=address or f"person-{number}@example.com",
        subject=f"mail {number}",
        message_id=f"<mail-{number}@example.com>",
        notification_id=str(number),
        body=f"body {number}",
    )


def subjects(sink: SmtpSink) -> list[str]:
    return sorted(str(message["Subject"]) for message in sink.received)


async def test_mails_in_a_row_share_one_connection(smtp_sink: SmtpSink) -> None:
    mailer = SmtpMailer(smtp_sink.host, smtp_sink.port)
    try:
        for number in range(5):
            await mailer.send(mail(number))
    finally:
        await mailer.close()
    assert subjects(smtp_sink) == [f"mail {n}" for n in range(5)]
    assert mailer.connections_opened == 1


async def test_concurrent_senders_each_use_a_connection_of_their_own(
    smtp_sink: SmtpSink,
) -> None:
    mailer = SmtpMailer(smtp_sink.host, smtp_sink.port)
    try:
        for batch in range(3):
            await asyncio.gather(*(mailer.send(mail(batch * 4 + n)) for n in range(4)))
    finally:
        await mailer.close()
    assert subjects(smtp_sink) == sorted(f"mail {n}" for n in range(12))
    assert mailer.connections_opened == 4


async def test_a_connection_the_server_dropped_is_replaced(smtp_sink: SmtpSink) -> None:
    # Checked with NOOP before every reuse, so the drop is noticed before a mail is sent.
    mailer = SmtpMailer(smtp_sink.host, smtp_sink.port, idle_check_seconds=0.0)
    try:
        await mailer.send(mail(1))
        smtp_sink.stop()  # the server goes away and closes every connection
        smtp_sink.start()
        await mailer.send(mail(2))
    finally:
        await mailer.close()
    assert subjects(smtp_sink) == ["mail 1", "mail 2"]
    assert mailer.connections_opened == 2


async def test_a_failed_send_raises_and_leaves_no_connection_behind(smtp_sink: SmtpSink) -> None:
    mailer = SmtpMailer(smtp_sink.host, smtp_sink.port, idle_check_seconds=60.0)
    try:
        await mailer.send(mail(1))
        smtp_sink.stop()  # dropped, and not checked: the next send fails and says so
        with pytest.raises((aiosmtplib.SMTPException, OSError)):
            await mailer.send(mail(2))
        smtp_sink.start()
        await mailer.send(mail(3))
    finally:
        await mailer.close()
    assert subjects(smtp_sink) == ["mail 1", "mail 3"]
    assert mailer.connections_opened == 2


async def test_an_internationalised_address_goes_out_over_smtputf8(smtp_sink: SmtpSink) -> None:
    mailer = SmtpMailer(smtp_sink.host, smtp_sink.port)
    try:
        await mailer.send(mail(1, name="Zoë Müller", address="zoë@exämple.com"))
    finally:
        await mailer.close()
    [message] = smtp_sink.received
    assert message["To"].addresses[0].display_name == "Zoë Müller"
    assert message["To"].addresses[0].addr_spec == "zoë@exämple.com"
    assert message["X-Envelope-To"] == "zoë@exämple.com"
