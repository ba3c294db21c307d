"""What the profile service does: register, change and delete profiles, and let people sign
in to the web pages with a mailed one-time link.

Each use case changes the store and raises its event through the same unit of work, so the
profile and its event commit together.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeRegistered,
    MentorRegistered,
    ProfileDeleted,
    ProfileUpdated,
    SignInLinkRequested,
)
from mentorship_shared.plumbing.auth import credential_of, hash_token, new_token
from mentorship_shared.plumbing.outbox import EventSink
from mentorship_shared.plumbing.sessions import ProfileKind, SessionClaims, SessionSigner

from .domain import (
    Profile,
    Registration,
    apply_changes,
    new_profile,
)
from .repository import StoredProfile


class ProfileStore(Protocol):
    async def add(self, profile: Profile, token_hash: bytes) -> StoredProfile: ...

    async def get(
        self, profile_id: uuid.UUID, *, for_update: bool = False
    ) -> StoredProfile | None: ...

    async def replace(self, profile: Profile) -> StoredProfile: ...

    async def token_hash(self, profile_id: uuid.UUID) -> bytes | None: ...

    async def set_token_hash(self, profile_id: uuid.UUID, token_hash: bytes) -> None: ...

    async def delete(self, profile_id: uuid.UUID) -> None: ...


class ProfileNotFound(Exception):
    pass


async def register(
    store: ProfileStore, events: EventSink, registration: Registration
) -> tuple[StoredProfile, str]:
    """Store a new profile and raise MenteeRegistered or MentorRegistered; return the token."""
    token = new_token()
    profile = new_profile(registration, uuid.uuid4())
    stored = await store.add(profile, hash_token(token))
    credential = credential_of(token)
    if isinstance(profile, MenteeProfile):
        await events.publish(MenteeRegistered(profile=profile, owner_credential=credential))
    else:
        await events.publish(MentorRegistered(profile=profile, owner_credential=credential))
    return stored, token


async def update_profile(
    store: ProfileStore, events: EventSink, profile_id: uuid.UUID, changes: dict[str, Any]
) -> StoredProfile:
    """Apply `changes`; raise ProfileUpdated only when something really changed."""
    stored = await store.get(profile_id, for_update=True)
    if stored is None:
        raise ProfileNotFound(profile_id)
    updated, changed_fields = apply_changes(stored.profile, changes)
    if not changed_fields:
        return stored
    result = await store.replace(updated)
    token_hash = await store.token_hash(profile_id)
    await events.publish(
        ProfileUpdated(
            profile=updated,
            changed_fields=changed_fields,
            owner_credential=token_hash.hex() if token_hash else None,
        )
    )
    return result


async def rotate_token(
    store: ProfileStore, events: EventSink, profile_id: uuid.UUID
) -> tuple[StoredProfile, str]:
    """Replace the owner's token: the old one stops working here at once, and in the other
    services as soon as they read the ProfileUpdated this raises."""
    stored = await store.get(profile_id, for_update=True)
    if stored is None:
        raise ProfileNotFound(profile_id)
    token = new_token()
    await store.set_token_hash(profile_id, hash_token(token))
    bumped = stored.profile.model_copy(update={"version": stored.profile.version + 1})
    result = await store.replace(bumped)
    await events.publish(
        ProfileUpdated(
            profile=bumped, changed_fields=["token"], owner_credential=credential_of(token)
        )
    )
    return result, token


async def delete_profile(store: ProfileStore, events: EventSink, profile_id: uuid.UUID) -> None:
    """Erase the profile, with the published events that carried it, and raise ProfileDeleted
    so other services drop their copies."""
    stored = await store.get(profile_id, for_update=True)
    if stored is None:
        raise ProfileNotFound(profile_id)
    await store.delete(profile_id)
    await events.publish(
        ProfileDeleted(
            profile_id=profile_id, kind=stored.profile.kind, version=stored.profile.version + 1
        )
    )


# --- signing in to the web pages -----------------------------------------------------------


class SignInStore(Protocol):
    async def find_by_email(self, email: str) -> tuple[uuid.UUID, ProfileKind] | None: ...

    async def add_sign_in_link(
        self, token_hash: bytes, profile_id: uuid.UUID, expires_at: datetime
    ) -> None: ...

    async def use_sign_in_link(self, token_hash: bytes) -> tuple[uuid.UUID, ProfileKind] | None: ...


class SignInLinkRefused(Exception):
    """The link is unknown, used already or expired (the caller is not told which)."""


async def request_sign_in_link(
    store: SignInStore, events: EventSink, email: str, *, now: datetime, lifetime: timedelta
) -> bool:
    """For a registered address, store a new link's token hash and raise SignInLinkRequested,
    which has the link mailed; for any other address, nothing. Returns whether a link was
    made (for tests: the caller answers the same either way)."""
    found = await store.find_by_email(email)
    if found is None:
        return False
    profile_id, kind = found
    token = new_token()
    expires_at = now + lifetime
    await store.add_sign_in_link(hash_token(token), profile_id, expires_at)
    await events.publish(
        SignInLinkRequested(
            profile_id=profile_id, kind=kind, link_token=token, expires_at=expires_at
        )
    )
    return True


async def redeem_sign_in_link(
    store: SignInStore, signer: SessionSigner, token: str, *, now: datetime, lifetime: timedelta
) -> tuple[str, SessionClaims]:
    """Use a link once: a session credential for its profile, or SignInLinkRefused."""
    found = await store.use_sign_in_link(hash_token(token))
    if found is None:
        raise SignInLinkRefused
    profile_id, kind = found
    return signer.issue(profile_id, kind, now=now, lifetime=lifetime)
