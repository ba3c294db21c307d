"""Mails written as bytes: what the standard library reads back is what was meant, and no
value can add a header of its own."""

from __future__ import annotations

import pytest
from devstack.smtp_sink import parse_mail
from hypothesis import given
from hypothesis import strategies as st
from notification_service.message import MailComposer, OutgoingMail

COMPOSER = MailComposer("Mentorship Matching <matches@mentorship.invalid>")


def mail(**overrides: str) -> OutgoingMail:
    """A proposal mail to Ada; `overrides` change single fields."""
    fields = {
        "to_name": "Ada Engineer",
        "to_address": "ada@example.com",
        "subject": "Your mentor: Grace PM",
        "message_id": "<n-1@mentorship.invalid>",
        "notification_id": "n-1",
        "body": "Hello Ada,\n\nGrace could mentor you on pricing.\n",
    } | overrides
    return COMPOSER.compose(**fields)


def compose(**overrides: str) -> bytes:
    return mail(**overrides).data


def test_a_plain_mail_reads_back_header_for_header() -> None:
    sent = mail()
    message = parse_mail(sent.data)
    assert str(message["From"]) == "Mentorship Matching <matches@mentorship.invalid>"
    assert str(message["To"]) == "Ada Engineer <ada@example.com>"
    assert message["Subject"] == "Your mentor: Grace PM"
    assert message["Message-ID"] == "<n-1@mentorship.invalid>"
    assert message["X-Mentorship-Notification"] == "n-1"
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == (
        "Hello Ada,\n\nGrace could mentor you on pricing.\n"
    )
    assert (sent.sender, sent.recipient, sent.smtputf8) == (
        "matches@mentorship.invalid",
        "ada@example.com",
        False,
    )
    assert b"\r\n\r\n" in sent.data  # the header ends
    assert b"\n" not in sent.data.replace(b"\r\n", b"")  # every line ends with CRLF


def test_names_with_quotes_commas_and_accents_survive() -> None:
    for name in ('Ada "the" O\'Neil, Jr.', "José Ñandú", "李小龍", "back\\slash"):
        message = parse_mail(compose(to_name=name, subject=f"Hello {name}"))
        [address] = message["To"].addresses
        assert (address.display_name, address.addr_spec) == (name, "ada@example.com")
        assert message["Subject"] == f"Hello {name}"


def test_a_long_or_non_ascii_body_is_quoted_printable_and_reads_back() -> None:
    body = "Grüße\n" + "x" * 1500 + "\n.a line starting with a dot\n"
    data = compose(body=body)
    assert b"Content-Transfer-Encoding: quoted-printable" in data
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert parse_mail(data).get_content().replace("\r\n", "\n") == body


def test_every_line_break_of_the_body_goes_out_as_crlf() -> None:
    data = compose(body="one\rtwo\r\nthree\nfour")
    body = data.split(b"\r\n\r\n", 1)[1]
    assert body == b"one\r\ntwo\r\nthree\r\nfour\r\n"


def test_a_name_that_looks_like_an_encoded_word_is_quoted() -> None:
    name = "=?utf-8?q?Admin?="
    assert f'"{name}"'.encode() in compose(to_name=name)


def test_a_long_subject_is_folded_and_reads_back() -> None:
    subject = ("A proposal " + "with many words " * 12).strip()
    data = compose(subject=subject)
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert parse_mail(data)["Subject"] == subject


def test_an_internationalised_address_needs_smtputf8() -> None:
    sent = mail(to_name="Zoë", to_address="zoë@exämple.com")
    assert sent.smtputf8
    assert parse_mail(sent.data)["To"].addresses[0].addr_spec == "zoë@exämple.com"


@pytest.mark.parametrize(
    "field",
    ["to_name", "subject", "to_address", "message_id", "notification_id"],
)
@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\x00"])
def test_a_line_break_in_any_header_value_is_refused(field: str, breaker: str) -> None:
    with pytest.raises(ValueError, match=r"line|control|single"):
        compose(**{field: f"x{breaker}Bcc: victim@example.com"})


@pytest.mark.parametrize("address", ["", "no-at-sign", "a b@example.com", "a@b>, c@d"])
def test_something_that_is_not_one_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="not a single mail address"):
        compose(to_address=address)


def test_a_sender_without_an_address_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="MAIL_FROM"):
        MailComposer("Mentorship Matching")


@given(
    name=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
    ).filter(lambda n: n.strip() == n and n.strip()),
    subject=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=120
    ).filter(lambda s: s.strip() == s and s.strip()),
    body=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=300
    ),
)
def test_whatever_the_text_the_mail_reads_back_as_written(
    name: str, subject: str, body: str
) -> None:
    message = parse_mail(compose(to_name=name, subject=subject, body=body))
    # The standard library's reader folds white space inside an encoded display name its own
    # way (for its own messages too): every other character comes back, in order.
    assert message["To"].addresses[0].display_name.split() == name.split()
    assert message["Subject"] == subject
    expected = body if body.endswith("\n") else body + "\n"
    assert message.get_content().replace("\r\n", "\n") == expected
    assert len(message.keys()) == 9
