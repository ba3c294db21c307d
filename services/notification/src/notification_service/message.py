"""A mail as the bytes the mail server receives, written directly.

The standard library's `EmailMessage` runs every header through its header registry and parser
and then folds it again when the message is flattened: about 1 ms of CPU a mail, more than the
SMTP conversation and the database work of the delivery together. The mails here have a fixed,
small shape (text/plain, a handful of headers), so they are written out directly; the standard
library still does the encodings (RFC 2047 words, quoted-printable) where they are needed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate, parseaddr

#: A display name that needs no quoting: atext and spaces (RFC 5322 3.2.3).
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+")
#: What may never reach a header: line breaks would start a header of the caller's choosing.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Longest line SMTP carries (RFC 5321 4.5.3.1.6, without the CRLF).
_MAX_LINE = 998
#: A subject longer than this is folded (the recommended line length, RFC 5322 2.1.1).
_FOLD_AT = 78


@dataclass(frozen=True)
class OutgoingMail:
    """One mail for one recipient: envelope and message bytes (CRLF line ends)."""

    sender: str
    recipient: str
    data: bytes
    #: The envelope or a header carries a non-ASCII address: the server must offer SMTPUTF8.
    smtputf8: bool = False


class MailComposer:
    """Writes the notification mails of one sender (`mail_from`, as the From header reads)."""

    def __init__(self, mail_from: str) -> None:
        name, address = parseaddr(mail_from)
        try:
            self.sender = _checked_address(address)
        except ValueError:
            raise ValueError(
                f"MAIL_FROM {mail_from!r} holds no mail address; write it as "
                "'Name <address@domain>' or 'address@domain'"
            ) from None
        self._from_header = _address_header(name, self.sender)

    def compose(
        self,
        *,
        to_name: str,
        to_address: str,
        subject: str,
        message_id: str,
        notification_id: str,
        body: str,
    ) -> OutgoingMail:
        """The mail, or ValueError when a header value cannot be written safely."""
        recipient = _checked_address(to_address)
        for name, value in (("Message-ID", message_id), ("notification id", notification_id)):
            if _CONTROL.search(value) or not value.isascii():
                raise ValueError(f"{name} {value!r} is not a single ASCII line")
        encoding, encoded_body = _body(body)
        head = (
            f"From: {self._from_header}\r\n"
            f"To: {_address_header(to_name, recipient)}\r\n"
            f"Subject: {_unstructured(subject)}\r\n"
            f"Message-ID: {message_id}\r\n"
            f"Date: {formatdate(localtime=False)}\r\n"
            f"X-Mentorship-Notification: {notification_id}\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n"
            "\r\n"
        )
        return OutgoingMail(
            sender=self.sender,
            recipient=recipient,
            data=head.encode() + encoded_body,
            smtputf8=not (recipient.isascii() and self.sender.isascii()),
        )


def _checked_address(address: str) -> str:
    if _CONTROL.search(address) or any(c in address for c in ' <>,;"') or "@" not in address:
        raise ValueError(f"{address!r} is not a single mail address")
    return address


def _address_header(name: str, address: str) -> str:
    """`name <address>`, the name quoted or RFC 2047-encoded as it needs."""
    if not name:
        return address
    if _CONTROL.search(name):
        raise ValueError("a display name may not hold line breaks or control characters")
    # Bare only when a reader cannot take it differently: runs of spaces in a bare phrase fold
    # into one, and `=?...?=` in one reads as an encoded word.
    if _PLAIN_PHRASE.fullmatch(name) and name == " ".join(name.split()) and "=?" not in name:
        phrase = name
    elif name.isascii():
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = _encoded_word(name)
    return f"{phrase} <{address}>"


def _encoded_word(text: str) -> str:
    """One RFC 2047 word for a display name. Folded into several, a name comes back from
    readers (the standard library's among them) with a space at each fold, so it is kept whole
    while the line stays within SMTP's limit; past that (names of 200 four-byte characters) it
    is folded after all."""
    word = f"=?utf-8?b?{base64.b64encode(text.encode()).decode('ascii')}?="
    if len(word) <= _MAX_LINE // 2:
        return word
    return Header(text, "utf-8").encode(linesep="\r\n")


def _unstructured(text: str) -> str:
    """A Subject value: as it is when short ASCII, else encoded words folded onto lines."""
    if _CONTROL.search(text):
        raise ValueError("a subject may not hold line breaks or control characters")
    if text.isascii() and len(text) + len("Subject: ") <= _FOLD_AT:
        return text
    return Header(text, "utf-8", header_name="Subject").encode(linesep="\r\n")


def _body(text: str) -> tuple[str, bytes]:
    """Content-Transfer-Encoding and body bytes: 7bit when the text allows, else
    quoted-printable (readable, and safe for servers without 8BITMIME)."""
    # Every line break becomes CRLF, a lone CR too (SMTP servers refuse bare CRs).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if text.isascii() and all(len(line) <= _MAX_LINE for line in lines):
        return "7bit", "\r\n".join(lines).encode("ascii") + (
            b"" if text.endswith("\n") else b"\r\n"
        )
    encoded = binascii.b2a_qp("\n".join(lines).encode(), istext=True).replace(b"\n", b"\r\n")
    return "quoted-printable", encoded + (b"" if encoded.endswith(b"\r\n") else b"\r\n")
