"""Sending mail over SMTP."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import aiosmtplib
from mentorship_shared.plumbing.tracing import tracer
from opentelemetry.trace import SpanKind

from .message import OutgoingMail

#: Errors that mean "this send did not happen"; the dispatcher retries them later.
SEND_ERRORS: tuple[type[BaseException], ...] = (aiosmtplib.SMTPException, OSError, TimeoutError)


def is_permanent(error: BaseException) -> bool:
    """A 5xx answer (or every recipient refused with one): sending again will not help."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(r.code >= 500 for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> None: ...

    async def close(self) -> None:
        """Release connections (at shutdown)."""


class SmtpMailer:
    """Sends over SMTP to SMTP_HOST:SMTP_PORT, keeping connections open between mails.

    A new connection costs a TCP handshake, the greeting, EHLO, STARTTLS and AUTH before the
    first mail; kept open, the next mail costs only MAIL, RCPT and DATA. Each concurrent sender
    takes a connection of its own from the idle ones (or opens one); a connection idle for
    longer than `idle_check_seconds` is checked with NOOP first, because servers drop idle
    clients. A mail whose send fails closes its connection and is not resent here: the caller
    records the failure and retries the mail later with the same Message-ID.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        idle_check_seconds: float = 5.0,
        max_idle_connections: int = 8,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._idle_check_seconds = idle_check_seconds
        self._max_idle = max_idle_connections
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self.connections_opened = 0

    async def send(self, mail: OutgoingMail) -> None:
        # No recipient in the span: traces may be kept longer and seen by more people than mail.
        with tracer().start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={"server.address": self._host, "server.port": self._port},
        ):
            client = await self._checkout()
            try:
                await client.sendmail(
                    mail.sender,
                    [mail.recipient],
                    mail.data,
                    mail_options=["SMTPUTF8"] if mail.smtputf8 else None,
                )
            except BaseException:
                await _close(client)
                raise
            self._checkin(client)

    async def close(self) -> None:
        """Say QUIT on every idle connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _close(client)

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, since = self._idle.pop()
            if not client.is_connected:
                continue
            if time.monotonic() - since < self._idle_check_seconds:
                return client
            try:
                await client.noop()
            except SEND_ERRORS:
                await _close(client)
                continue
            return client
        return await self._connect()

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._max_idle and client.is_connected:
            self._idle.append((client, time.monotonic()))
        else:
            asyncio.get_running_loop().create_task(_close(client))

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        await client.connect()
        self.connections_opened += 1
        return client


async def _close(client: aiosmtplib.SMTP) -> None:
    """QUIT politely when the connection still works, else just drop it."""
    if client.is_connected:
        try:
            await client.quit()
        except SEND_ERRORS:
            client.close()
    else:
        client.close()
