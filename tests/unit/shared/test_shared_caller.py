"""Who a bearer token acts for: a session credential by the profile it is signed for, an owner
token by the credential a service keeps, the operator key by itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import Request
from mentorship_shared.plumbing.auth import caller_of, credential_of, new_token
from mentorship_shared.plumbing.http import ApiError
from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key
from pydantic import SecretStr

SIGNER = SessionSigner(generate_signing_key())
ME, SOMEONE = uuid.uuid4(), uuid.uuid4()


def request_with(authorization: str) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def session(profile_id: uuid.UUID, lifetime: timedelta = timedelta(hours=1)) -> str:
    credential, _ = SIGNER.issue(profile_id, "mentee", now=datetime.now(UTC), lifetime=lifetime)
    return credential


def test_a_session_credential_acts_for_the_profile_it_is_signed_for_only() -> None:
    who = caller_of(request_with(f"Bearer {session(ME)}"), SIGNER.public_key_text)
    assert who.has_session
    assert who.signed_in_as == ME
    # The stored credential plays no part: the signature is the proof.
    assert who.acts_for(ME, None)
    assert who.acts_for(ME, credential_of(new_token()))
    assert not who.acts_for(SOMEONE, None)


def test_a_session_credential_acts_for_nobody_without_the_key_or_when_forged_or_expired() -> None:
    genuine = session(ME)
    # The signature's last two characters changed (to ones they are not already).
    tampered = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "QA")
    other_signer = SessionSigner(generate_signing_key())
    forged, _ = other_signer.issue(ME, "mentee", now=datetime.now(UTC), lifetime=timedelta(hours=1))
    for token, key in (
        (genuine, None),
        (forged, SIGNER.public_key_text),
        (session(ME, timedelta(seconds=-1)), SIGNER.public_key_text),
        (tampered, SIGNER.public_key_text),
    ):
        who = caller_of(request_with(f"Bearer {token}"), key)
        assert who.has_session
        assert who.signed_in_as is None
        assert not who.acts_for(ME, None)


def test_an_owner_token_acts_for_the_profile_whose_credential_it_matches() -> None:
    token = new_token()
    who = caller_of(request_with(f"Bearer {token}"), SIGNER.public_key_text)
    assert not who.has_session
    assert who.acts_for(ME, credential_of(token))
    assert not who.acts_for(ME, credential_of(new_token()))
    assert not who.acts_for(ME, None)


def test_the_operator_key_is_recognised_and_a_missing_token_is_a_401() -> None:
    who = caller_of(request_with("Bearer the-operator-key"), None)
    assert who.is_operator(SecretStr("the-operator-key"))
    assert not who.is_operator(None)
    with pytest.raises(ApiError) as refused:
        caller_of(request_with(""), SIGNER.public_key_text)
    assert refused.value.status == 401
