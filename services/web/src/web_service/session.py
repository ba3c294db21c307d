"""The session cookie: the person's session credential, as the profile service signed it.

The web front end keeps no session state of its own. The cookie holds the credential the
profile service issued at sign-in (its signature checked here with the profile service's
public key, so a forged or expired cookie is nobody), and the same credential is what this
service sends to the profile and matching APIs for the person: they check it themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from mentorship_shared.plumbing.sessions import SessionClaims, verify_session

COOKIE = "session"


@dataclass(frozen=True)
class Session:
    """A signed-in person: their credential and what it says."""

    credential: str
    claims: SessionClaims

    @property
    def is_mentee(self) -> bool:
        return self.claims.kind == "mentee"

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(0, int((self.claims.expires_at - (now or datetime.now(UTC))).total_seconds()))


def read_session(
    cookie: str | None, public_key: Ed25519PublicKey | None, *, now: datetime | None = None
) -> Session | None:
    """The session a cookie holds, or None when it is missing, forged or expired."""
    if not cookie:
        return None
    claims = verify_session(cookie, public_key, now=now)
    return Session(cookie, claims) if claims is not None else None
