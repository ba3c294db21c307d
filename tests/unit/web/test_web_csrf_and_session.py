"""CSRF tokens and the session cookie: pure checks, no server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from mentorship_shared.plumbing.sessions import (
    SessionSigner,
    generate_signing_key,
    is_session_credential,
    public_key_from_text,
    verify_session,
)
from web_service import csrf
from web_service.session import read_session

SECRET = b"a secret of the tests"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_token_is_valid_only_for_the_cookie_and_secret_it_was_made_for() -> None:
    seed = csrf.new_seed()
    token = csrf.token_for(SECRET, seed)
    assert csrf.is_valid(SECRET, seed, token)
    assert not csrf.is_valid(SECRET, csrf.new_seed(), token)
    assert not csrf.is_valid(b"another secret", seed, token)
    assert not csrf.is_valid(SECRET, seed, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not csrf.is_valid(SECRET, None, token)
    assert not csrf.is_valid(SECRET, seed, None)
    assert not csrf.is_valid(SECRET, seed, "")


def test_seeds_differ() -> None:
    assert len({csrf.new_seed() for _ in range(50)}) == 50


def issue(signer: SessionSigner, *, lifetime: timedelta = timedelta(hours=8)) -> str:
    credential, _ = signer.issue(uuid.UUID(int=7), "mentor", now=NOW, lifetime=lifetime)
    return credential


def test_a_signed_credential_reads_back_as_its_claims_until_it_expires() -> None:
    signer = SessionSigner(generate_signing_key())
    credential = issue(signer)
    assert is_session_credential(credential)
    key = public_key_from_text(signer.public_key_text)
    claims = verify_session(credential, key, now=NOW + timedelta(hours=7, minutes=59))
    assert claims is not None
    assert claims.profile_id == uuid.UUID(int=7)
    assert claims.kind == "mentor"
    assert verify_session(credential, key, now=NOW + timedelta(hours=8)) is None


def test_a_forged_or_altered_credential_is_nobody() -> None:
    signer = SessionSigner(generate_signing_key())
    other = SessionSigner(generate_signing_key())
    credential = issue(signer)
    key = signer.public_key
    assert verify_session(issue(other), key, now=NOW) is None
    body, _, signature = credential.rpartition(".")
    # Claims of another profile under this credential's signature.
    other_body = other.issue(uuid.UUID(int=8), "mentor", now=NOW, lifetime=timedelta(hours=8))
    assert verify_session(f"{other_body[0].rpartition('.')[0]}.{signature}", key, now=NOW) is None
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert verify_session(f"{body}.{flipped}", key, now=NOW) is None
    assert verify_session("an owner token", key, now=NOW) is None
    assert verify_session(credential, None, now=NOW) is None


def test_the_session_cookie_is_a_session_only_while_its_credential_is_good() -> None:
    signer = SessionSigner(generate_signing_key())
    credential = issue(signer, lifetime=timedelta(hours=1))
    session = read_session(credential, signer.public_key, now=NOW)
    assert session is not None
    assert not session.is_mentee
    assert session.seconds_left(NOW) == 3600
    assert read_session(credential, signer.public_key, now=NOW + timedelta(hours=2)) is None
    assert read_session(None, signer.public_key) is None
    assert read_session(credential, SessionSigner(generate_signing_key()).public_key) is None
