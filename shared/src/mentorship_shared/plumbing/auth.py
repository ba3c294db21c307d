"""Bearer credentials: a profile owner's token or the operator key."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from pydantic import SecretStr

from .http import ApiError


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
