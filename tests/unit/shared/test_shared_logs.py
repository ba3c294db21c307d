"""Logs mask email addresses; the JSON formatter writes one object per line."""

from __future__ import annotations

import json
import logging
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.plumbing.logs import JsonFormatter, TextFormatter, mask_email

local_parts = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-",
    min_size=1,
    max_size=20,
)
domains = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}\.[a-z]{2,6}", fullmatch=True)
emails = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
# Text that cannot hold an address: no "@".
plain_text = st.text(st.characters(exclude_characters="@"), max_size=80)


def test_mask_email_keeps_first_letter_and_domain() -> None:
    assert mask_email("mail to ada.lovelace@example.com failed") == (
        "mail to a***@example.com failed"
    )


def test_mask_email_masks_every_address() -> None:
    masked = mask_email("from grace@navy.mil to ada@example.com, cc bob+pm@corp.example.org")
    assert masked == "from g***@navy.mil to a***@example.com, cc b***@corp.example.org"


@settings(max_examples=100, deadline=None)
@given(before=plain_text, addresses=st.lists(emails, min_size=1, max_size=3), after=plain_text)
def test_no_address_survives_masking(before: str, addresses: list[str], after: str) -> None:
    text = before + " " + " , ".join(addresses) + " " + after
    masked = mask_email(text)
    for address in addresses:
        local, domain = address.split("@")
        assert address not in masked
        assert f"{local[0]}***@{domain}" in masked
    assert masked.startswith(before)
    assert masked.endswith(after)


@settings(max_examples=100, deadline=None)
@given(text=plain_text)
def test_text_without_an_address_is_left_alone(text: str) -> None:
    assert mask_email(text) == text


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("matching.worker", logging.WARNING, __file__, 10, message, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_formatter_writes_one_object_per_line_with_extras_and_masked_emails() -> None:
    line = JsonFormatter("matching").format(
        record("mail to %s failed", "ada@example.com", match_id="m-1", attempt=2)
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["service"] == "matching"
    assert entry["logger"] == "matching.worker"
    assert entry["message"] == "mail to a***@example.com failed"
    assert entry["match_id"] == "m-1"
    assert entry["attempt"] == 2
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry  # LogRecord internals stay out
    assert "ada@example.com" not in line


def test_json_formatter_keeps_multiline_messages_on_one_line() -> None:
    line = JsonFormatter("profile").format(record("first\nsecond"))
    assert "\n" not in line
    assert json.loads(line)["message"] == "first\nsecond"


def test_json_formatter_serialises_unusual_extras_as_text() -> None:
    entry = json.loads(JsonFormatter("p").format(record("x", reason=ValueError("bad"))))
    assert entry["reason"] == "bad"


def test_json_formatter_includes_the_exception() -> None:
    try:
        raise RuntimeError("kaboom")
    except RuntimeError:
        rec = record("failed")
        rec.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter("p").format(rec))
    assert "RuntimeError: kaboom" in entry["exception"]


def test_emails_in_exceptions_and_extras_are_masked_too() -> None:
    try:
        raise ValueError("duplicate key (email)=(ada@example.com)")
    except ValueError:
        rec = record("insert failed", recipient="grace@example.com")
        rec.exc_info = sys.exc_info()
    assert "ada@example.com" not in JsonFormatter("p").format(rec)
    assert "grace@example.com" not in JsonFormatter("p").format(rec)
    assert "ada@example.com" not in TextFormatter().format(rec)


def test_text_formatter_masks_and_lists_extras() -> None:
    line = TextFormatter().format(record("sent to %s", "ada@example.com", notification_id="n1"))
    assert "a***@example.com" in line
    assert "ada@example.com" not in line
    assert "notification_id=n1" in line
    assert "WARNING" in line
