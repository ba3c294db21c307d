"""Sending mail over SMTP."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from mentorship_shared.plumbing.tracing import tracer
from opentelemetry.trace import SpanKind

#: Errors that mean "this send did not happen"; the dispatcher retries them later.
SEND_ERRORS: tuple[type[BaseException], ...] = (aiosmtplib.SMTPException, OSError, TimeoutError)


def is_permanent(error: BaseException) -> bool:
    """A 5xx answer (or every recipient refused with one): sending again will not help."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(r.code >= 500 for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """One SMTP conversation per mail; the server comes from SMTP_HOST and SMTP_PORT."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        # No recipient in the span: traces may be kept longer and seen by more people than mail.
        with tracer().start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={"server.address": self._host, "server.port": self._port},
        ):
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
