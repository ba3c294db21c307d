"""Bearer credentials: a profile owner's token, a session credential or the operator key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from fastapi import Request
from pydantic import SecretStr

from .http import ApiError
from .sessions import is_session_credential, session_owner


def new_token() -> str:
    """A random secret handed to the owner once; only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).digest()


def credential_of(token: str) -> str:
    """The form of a token other services keep and compare: its SHA-256 in hex."""
    return hash_token(token).hex()


def is_owner(token: str, credential: str | None) -> bool:
    """Whether `token` is the one whose credential a service was told about."""
    if not credential:
        return False
    return hmac.compare_digest(credential_of(token), credential)


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "Send the token you received at registration as 'Authorization: Bearer <token>'.",
        )
    return token.strip()


def is_operator(token: str, operator_key: SecretStr | None) -> bool:
    """Whether `token` is the operator key; never true when no key is configured."""
    if operator_key is None or not operator_key.get_secret_value():
        return False
    return hmac.compare_digest(token.encode(), operator_key.get_secret_value().encode())


@dataclass(frozen=True)
class Caller:
    """Whom the bearer token of a request may act for.

    A session credential names its profile itself, signed by the profile service (checked with
    its public key), so a service needs no stored credential to judge it; an owner token is
    compared with the credential the service keeps for the profile. Either way a caller acts
    for one profile only: its own."""

    token: str
    #: The profile a genuine, unexpired session credential is signed for; None for an owner
    #: token, the operator key, or a forged or expired session credential.
    signed_in_as: uuid.UUID | None

    @property
    def has_session(self) -> bool:
        """The token has the form of a session credential (genuine or not): deciding whether
        it acts for a profile needs no stored credential."""
        return is_session_credential(self.token)

    def acts_for(self, profile_id: uuid.UUID, credential: str | None) -> bool:
        """Whether the caller is the owner of `profile_id`, whose owner credential the service
        keeps as `credential` (not consulted for a session credential, may be None then)."""
        if self.has_session:
            return self.signed_in_as == profile_id
        return is_owner(self.token, credential)

    def is_operator(self, operator_key: SecretStr | None) -> bool:
        return is_operator(self.token, operator_key)


def caller_of(request: Request, session_public_key: str | None) -> Caller:
    """The caller of a request (401 without a bearer token); `session_public_key` is the
    service's SESSION_PUBLIC_KEY (None: session credentials act for nobody)."""
    token = bearer_token(request)
    return Caller(token, session_owner(token, session_public_key))
