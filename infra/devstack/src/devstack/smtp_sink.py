"""An SMTP server that delivers nowhere: every message lands as an ``.eml`` file in a folder.

Use it in tests (start/stop in-process, then :meth:`SmtpSink.wait_for` the mail you expect)
or standalone::

    python -m devstack.smtp_sink --port 2525 --maildir var/mail

Files are named ``<UTC timestamp>-<counter>.eml`` so that sorting by name sorts by arrival,
and are written to a hidden temp file first and then linked into place, so a reader in
another process never sees half a message.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller

from devstack.processes import group_listens_on, spawn
from devstack.server import HOST, EmbeddedServer

__all__ = ["SmtpSink", "main", "parse_mail", "read_maildir"]


def read_maildir(maildir: Path) -> list[EmailMessage]:
    """Every ``.eml`` file in ``maildir``, parsed, oldest first."""
    messages: list[EmailMessage] = []
    if not maildir.is_dir():
        return messages
    for path in sorted(maildir.glob("*.eml")):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # removed by clear() in the meantime
            continue
        messages.append(parse_mail(data))
    return messages


def parse_mail(data: bytes) -> EmailMessage:
    """A mail's bytes as a message. UTF-8 is read as UTF-8 (the headers of mail sent over
    SMTPUTF8, RFC 6532); the standard library's byte parser would read it as escaped ASCII."""
    try:
        message = email.message_from_string(data.decode(), policy=email.policy.default)
    except UnicodeDecodeError:
        message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # guaranteed by policy=default
    return message


class _MaildirHandler:
    """aiosmtpd handler: accept any sender and recipient, save the message to disk."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        # Raw bytes, parsed only when asked for: parsing every mail cost the standalone sink
        # (which never reads them back) about as much CPU as receiving it.
        self.received: list[bytes] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _store(self, data: bytes) -> Path:
        self.maildir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        tmp = self.maildir / f".incoming-{os.getpid()}-{threading.get_ident()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            while True:
                final = self.maildir / f"{stamp}-{next(self._counter):06d}.eml"
                # link() refuses to replace an existing name (unlike rename), so two sinks
                # sharing a folder can never overwrite each other's mail.
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    continue
                return final
        finally:
            tmp.unlink(missing_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        # Record the envelope too: Bcc recipients appear nowhere else.
        trace = (
            f"X-Envelope-From: <{envelope.mail_from}>\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        data = trace + bytes(envelope.original_content or envelope.content)
        self._store(data)
        with self._lock:
            self.received.append(data)
        return "250 Message accepted for delivery"


class SmtpSink(EmbeddedServer):
    """An SMTP server that writes each mail to ``maildir``: in a thread of this process, or
    with ``process=True`` as a child process of its own (``python -m devstack.smtp_sink``,
    whose CPU time can then be told apart from ours). Either way :meth:`messages` and
    :meth:`wait_for` read the maildir, which also works on a sink another process runs."""

    label = "the SMTP sink"

    def __init__(
        self,
        host: str = HOST,
        port: int | None = None,
        *,
        maildir: Path,
        process: bool = False,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(port, host=host, log_path=log_path)
        self.maildir = Path(maildir)
        self.process = process
        self._handler = _MaildirHandler(self.maildir)
        self._controller: Controller | None = None

    @property
    def received(self) -> list[EmailMessage]:
        """What this instance received in its own thread since it was created (or cleared)."""
        with self._handler._lock:
            raw = list(self._handler.received)
        return [parse_mail(data) for data in raw]

    @property
    def running(self) -> bool:
        return self._controller is not None or super().running

    def _launch(self) -> subprocess.Popen[bytes] | None:
        self.maildir.mkdir(parents=True, exist_ok=True)
        if self.process:
            return spawn(
                [
                    *(sys.executable, "-m", "devstack.smtp_sink", "--host", self.host),
                    *("--port", str(self.port), "--maildir", str(self.maildir)),
                ],
                log_path=self.log_path or self.maildir.parent / "smtp-sink.log",
            )
        controller = Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            # A fixed greeting name: the default looks up the machine's FQDN, which can
            # stall for seconds on a machine without DNS.
            server_hostname="devstack-smtp-sink",
            # Addresses may be internationalised (RFC 6531), as registration accepts them.
            enable_SMTPUTF8=True,
            ready_timeout=10.0,
        )
        controller.start()  # returns once it accepts connections
        self._controller = controller
        return None

    def _probe(self) -> str | None:
        if self._proc is None or group_listens_on(self._proc.pid, self.port):
            return None
        return "not listening yet"

    def _halt(self, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        super()._halt(proc, timeout)

    def messages(self) -> list[EmailMessage]:
        """All mail in the maildir (from any process), oldest first."""
        return read_maildir(self.maildir)

    def _matching(
        self, predicate: Callable[[EmailMessage], bool], count: int, timeout: float | None
    ) -> list[EmailMessage] | None:
        """The matches once there are ``count``; None if not yet; raise if ``timeout`` is set."""
        everything = self.messages()
        matching = [message for message in everything if predicate(message)]
        if len(matching) >= count:
            return matching
        if timeout is None:
            return None
        seen = "; ".join(f"to={m['To']!s} subject={m['Subject']!s}" for m in everything)
        raise TimeoutError(
            f"{len(matching)} of {count} expected mail(s) after {timeout:.1f} s; "
            f"the maildir holds {len(everything)}: {seen or 'nothing'}"
        )

    def wait_for(
        self,
        predicate: Callable[[EmailMessage], bool] = lambda _message: True,
        timeout: float = 10.0,
        *,
        count: int = 1,
    ) -> list[EmailMessage]:
        """Wait until at least ``count`` mails satisfy ``predicate``; return all that do.

        Raises TimeoutError listing what did arrive, which is usually the quickest clue.
        """
        deadline = time.monotonic() + timeout
        while True:
            expired = time.monotonic() >= deadline
            found = self._matching(predicate, count, timeout if expired else None)
            if found is not None:
                return found
            time.sleep(0.05)

    async def wait_for_async(
        self,
        predicate: Callable[[EmailMessage], bool] = lambda _message: True,
        timeout: float = 10.0,
        *,
        count: int = 1,
    ) -> list[EmailMessage]:
        """:meth:`wait_for` for async code: polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            expired = time.monotonic() >= deadline
            found = self._matching(predicate, count, timeout if expired else None)
            if found is not None:
                return found
            await asyncio.sleep(0.05)

    def clear(self) -> None:
        """Delete every mail in the maildir and forget the in-memory ones."""
        if self.maildir.is_dir():
            for path in self.maildir.glob("*.eml"):
                path.unlink(missing_ok=True)
        with self._handler._lock:
            self._handler.received.clear()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.smtp_sink",
        description=(
            "Accept mail over SMTP and save each message as an .eml file instead of "
            "delivering it. Runs until SIGINT or SIGTERM."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=2525, help="TCP port to listen on")
    parser.add_argument(
        "--maildir", type=Path, default=Path("var/mail"), help="folder the .eml files go to"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SmtpSink(args.host, args.port, maildir=args.maildir):
        print(
            f"SMTP sink listening on {args.host}:{args.port}, writing to {args.maildir}",
            flush=True,
        )
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
