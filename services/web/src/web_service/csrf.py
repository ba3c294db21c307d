"""CSRF protection of every form: a signed double-submit token.

Each browser gets a random `csrf` cookie; every form carries a token that is the HMAC of that
cookie under the service's secret. A page on another site can make the browser send the
cookie, but cannot read it, so it cannot compute the token (and without the secret, neither
can anyone who manages to plant a cookie). SameSite=Lax on the cookies and the refusal of
`Sec-Fetch-Site: cross-site` form posts stand in front of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "csrf"
FIELD = "csrf_token"


def new_seed() -> str:
    """The random value of a new `csrf` cookie."""
    return secrets.token_urlsafe(32)


def token_for(secret: bytes, seed: str) -> str:
    """The token the forms of the browser holding cookie `seed` carry."""
    return hmac.new(secret, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def is_valid(secret: bytes, seed: str | None, submitted: str | None) -> bool:
    """Whether a form's token belongs to the browser's cookie."""
    if not seed or not submitted:
        return False
    return hmac.compare_digest(token_for(secret, seed), submitted)
