"""Session credentials: what a person who signed in through the web front end acts with.

The profile service signs one when a person redeems a sign-in link (or presents their owner
token): `s1.<claims>.<signature>`, the claims being the profile id, its kind and an expiry,
signed with Ed25519. Every service that serves a person's own data checks the signature with
the profile service's public key and compares the profile id with the one asked about, the
same owner-only rule as for owner tokens, without asking the profile service and without
waiting for an event.

Only the profile service holds the private key, so no other service (the web front end
included) can make a credential for a person who did not sign in. A credential cannot be
withdrawn before it expires, so it lives a few hours; the web front end keeps it in the
person's HttpOnly cookie and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "s1."

ProfileKind = Literal["mentee", "mentor"]


class InvalidKey(ValueError):
    """A key in the settings is not a base64url-encoded 32-byte Ed25519 key."""


@dataclass(frozen=True)
class SessionClaims:
    """Who a session credential speaks for, and until when."""

    profile_id: uuid.UUID
    kind: ProfileKind
    expires_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_key(text: str, what: str) -> bytes:
    try:
        raw = _b64decode(text.strip())
    except (binascii.Error, ValueError) as error:
        raise InvalidKey(f"{what} is not base64url text") from error
    if len(raw) != 32:
        raise InvalidKey(f"{what} must be 32 bytes (43 base64url characters), not {len(raw)}")
    return raw


def generate_signing_key() -> str:
    """A new private key as SESSION_SIGNING_KEY takes it."""
    return _b64encode(Ed25519PrivateKey.generate().private_bytes_raw())


@functools.lru_cache(maxsize=8)
def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_raw_key(text, "the session public key"))


def public_key_text(public_key: Ed25519PublicKey) -> str:
    return _b64encode(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


class SessionSigner:
    """Signs session credentials (the profile service's side)."""

    def __init__(self, signing_key_text: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(
            _raw_key(signing_key_text, "the session signing key")
        )
        self.public_key = self._key.public_key()

    @property
    def public_key_text(self) -> str:
        return public_key_text(self.public_key)

    def issue(
        self, profile_id: uuid.UUID, kind: ProfileKind, *, now: datetime, lifetime: timedelta
    ) -> tuple[str, SessionClaims]:
        expires_at = (now + lifetime).replace(microsecond=0)
        claims = {"sub": str(profile_id), "kind": kind, "exp": int(expires_at.timestamp())}
        body = PREFIX + _b64encode(json.dumps(claims, separators=(",", ":")).encode())
        signature = self._key.sign(body.encode("ascii"))
        return f"{body}.{_b64encode(signature)}", SessionClaims(profile_id, kind, expires_at)


def is_session_credential(token: str) -> bool:
    """Whether a bearer token has the form of a session credential (owner tokens never do)."""
    return token.startswith(PREFIX)


def verify_session(
    token: str, public_key: Ed25519PublicKey | None, *, now: datetime | None = None
) -> SessionClaims | None:
    """The claims of a genuine, unexpired session credential; None for anything else."""
    if public_key is None or not is_session_credential(token):
        return None
    body, _, signature_text = token.rpartition(".")
    try:
        public_key.verify(_b64decode(signature_text), body.encode("ascii"))
        claims = json.loads(_b64decode(body.removeprefix(PREFIX)))
        profile_id = uuid.UUID(str(claims["sub"]))
        kind = claims["kind"]
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (InvalidSignature, ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        return None
    if kind not in ("mentee", "mentor"):
        return None
    if expires_at <= (now or datetime.now(UTC)):
        return None
    return SessionClaims(profile_id, kind, expires_at)


def session_owner(token: str, public_key_text: str | None) -> uuid.UUID | None:
    """The profile a bearer token speaks for as a session credential, checked with the key a
    service's SESSION_PUBLIC_KEY names; None when it is not a genuine, unexpired one."""
    if public_key_text is None:
        return None
    claims = verify_session(token, public_key_from_text(public_key_text))
    return claims.profile_id if claims is not None else None
