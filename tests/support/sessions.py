"""Session credentials for tests: one signing key per test run, as the profile service would
hold it, and the bearer header of a person signed in with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from mentorship_shared.plumbing.sessions import ProfileKind, SessionSigner, generate_signing_key

#: The profile service's signing key in tests; services under test get its public key.
SIGNER = SessionSigner(generate_signing_key())


def signed_in(
    profile_id: uuid.UUID,
    kind: ProfileKind,
    *,
    signer: SessionSigner = SIGNER,
    lifetime: timedelta = timedelta(hours=1),
) -> dict[str, str]:
    """The Authorization header of `profile_id` signed in (a negative lifetime: expired)."""
    credential, _ = signer.issue(profile_id, kind, now=datetime.now(UTC), lifetime=lifetime)
    return {"Authorization": f"Bearer {credential}"}
