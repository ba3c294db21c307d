"""Register, update and delete with an in-memory store and a recording event sink."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeRegistered,
    MentorProfile,
    MentorRegistered,
    ProfileDeleted,
    ProfileUpdated,
)
from mentorship_shared.plumbing.auth import hash_token
from profile_service.domain import FieldRejected, Profile
from profile_service.repository import StoredProfile
from profile_service.schemas import MenteeRegistration, MentorRegistration
from profile_service.use_cases import (
    ProfileNotFound,
    delete_profile,
    register,
    rotate_token,
    update_profile,
)
from pydantic import ValidationError

from tests.support.fakes import RecordingSink

PRICING = "pricing_monetisation"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


class FakeProfileStore:
    """The `ProfileStore` protocol over a dict."""

    def __init__(self) -> None:
        self.profiles: dict[uuid.UUID, StoredProfile] = {}
        self.token_hashes: dict[uuid.UUID, bytes] = {}
        self.replaced: list[Profile] = []
        self.locked_reads: list[uuid.UUID] = []

    async def add(self, profile: Profile, token_hash: bytes) -> StoredProfile:
        assert profile.profile_id not in self.profiles
        stored = StoredProfile(profile=profile, created_at=T0, updated_at=T0)
        self.profiles[profile.profile_id] = stored
        self.token_hashes[profile.profile_id] = token_hash
        return stored

    async def get(self, profile_id: uuid.UUID, *, for_update: bool = False) -> StoredProfile | None:
        if for_update:
            self.locked_reads.append(profile_id)
        return self.profiles.get(profile_id)

    async def replace(self, profile: Profile) -> StoredProfile:
        old = self.profiles[profile.profile_id]
        stored = replace(old, profile=profile, updated_at=datetime.now(UTC))
        self.profiles[profile.profile_id] = stored
        self.replaced.append(profile)
        return stored

    async def delete(self, profile_id: uuid.UUID) -> None:
        self.profiles.pop(profile_id, None)
        self.token_hashes.pop(profile_id, None)

    async def token_hash(self, profile_id: uuid.UUID) -> bytes | None:
        return self.token_hashes.get(profile_id)

    async def set_token_hash(self, profile_id: uuid.UUID, token_hash: bytes) -> None:
        self.token_hashes[profile_id] = token_hash


@pytest.fixture
def store() -> FakeProfileStore:
    return FakeProfileStore()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


def mentee_registration(**overrides: Any) -> MenteeRegistration:
    body: dict[str, Any] = {
        "name": "Ada Engineer",
        "email": "ada@example.com",
        "timezone": "Europe/Berlin",
        "languages": ["en"],
        "skills": [{"skill": PRICING, "current": 1, "target": 4}],
    }
    return MenteeRegistration.model_validate(body | overrides)


def mentor_registration(**overrides: Any) -> MentorRegistration:
    body: dict[str, Any] = {
        "name": "Grace PM",
        "email": "grace@example.com",
        "timezone": "Europe/Paris",
        "languages": ["en"],
        "skills": [{"skill": PRICING, "level": 5}],
        "capacity": 2,
        "was_engineer": False,
    }
    return MentorRegistration.model_validate(body | overrides)


# --- register --------------------------------------------------------------------------------


async def test_register_mentee_stores_the_profile_and_publishes_mentee_registered(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, _ = await register(store, sink, mentee_registration())

    assert isinstance(stored.profile, MenteeProfile)
    assert stored.profile.version == 1
    assert store.profiles[stored.profile.profile_id] == stored
    assert len(sink.published) == 1
    event = sink.published[0]
    assert isinstance(event, MenteeRegistered)
    assert event.profile == stored.profile
    assert event.aggregate_id() == str(stored.profile.profile_id)


async def test_register_mentor_publishes_mentor_registered(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, _ = await register(store, sink, mentor_registration())

    assert isinstance(stored.profile, MentorProfile)
    assert [type(e) for e in sink.published] == [MentorRegistered]
    event = sink.published[0]
    assert isinstance(event, MentorRegistered)
    assert event.profile == stored.profile


async def test_register_hands_out_a_token_and_stores_only_its_sha256(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, token = await register(store, sink, mentee_registration())

    stored_hash = store.token_hashes[stored.profile.profile_id]
    assert stored_hash == hash_token(token)
    assert stored_hash == hashlib.sha256(token.encode()).digest()
    assert len(token) >= 32  # enough randomness to be a credential
    assert token.encode() not in stored_hash
    assert token not in stored.profile.model_dump_json()
    # Other services recognise the owner by the same digest, never by the token itself.
    [event] = sink.published
    assert isinstance(event, MenteeRegistered)
    assert event.owner_credential == stored_hash.hex()
    assert token not in event.model_dump_json()


async def test_two_registrations_get_different_ids_and_tokens(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    first, first_token = await register(store, sink, mentee_registration())
    second, second_token = await register(store, sink, mentee_registration(email="b@example.com"))
    assert first.profile.profile_id != second.profile.profile_id
    assert first_token != second_token
    assert len(sink.published) == 2


# --- update ----------------------------------------------------------------------------------


async def test_update_publishes_profile_updated_with_the_changed_fields(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, _ = await register(store, sink, mentee_registration())
    profile_id = stored.profile.profile_id
    sink.published.clear()

    result = await update_profile(store, sink, profile_id, {"name": "Ada L.", "goals": "Launch"})

    assert result.profile.version == 2
    assert store.profiles[profile_id].profile == result.profile
    assert profile_id in store.locked_reads  # read under lock before changing
    assert len(sink.published) == 1
    event = sink.published[0]
    assert isinstance(event, ProfileUpdated)
    assert event.changed_fields == ["goals", "name"]
    assert event.profile == result.profile
    assert event.profile.version == 2
    assert event.owner_credential == store.token_hashes[profile_id].hex()


async def test_rotating_the_token_retires_the_old_one_and_publishes_the_new_credential(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, old_token = await register(store, sink, mentee_registration())
    profile_id = stored.profile.profile_id
    sink.published.clear()

    result, new_token = await rotate_token(store, sink, profile_id)

    assert new_token != old_token
    assert store.token_hashes[profile_id] == hash_token(new_token)
    assert result.profile.version == stored.profile.version + 1
    [event] = sink.published
    assert isinstance(event, ProfileUpdated)
    assert event.changed_fields == ["token"]
    assert event.owner_credential == hash_token(new_token).hex()
    assert event.profile.version == result.profile.version
    with pytest.raises(ProfileNotFound):
        await rotate_token(store, sink, uuid.uuid4())


async def test_update_without_a_real_change_publishes_nothing(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, _ = await register(store, sink, mentee_registration())
    sink.published.clear()

    result = await update_profile(
        store, sink, stored.profile.profile_id, {"name": "Ada Engineer", "languages": ["en"]}
    )

    assert result == stored
    assert sink.published == []
    assert store.replaced == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"capacity": 3}, FieldRejected), ({"timezone": "Nowhere/Land"}, ValidationError)],
)
async def test_rejected_update_changes_nothing_and_publishes_nothing(
    store: FakeProfileStore, sink: RecordingSink, changes: dict[str, Any], error: type[Exception]
) -> None:
    stored, _ = await register(store, sink, mentee_registration())
    sink.published.clear()

    with pytest.raises(error):
        await update_profile(store, sink, stored.profile.profile_id, changes)

    assert store.profiles[stored.profile.profile_id] == stored
    assert sink.published == []


async def test_update_of_unknown_profile_raises_not_found(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    with pytest.raises(ProfileNotFound):
        await update_profile(store, sink, uuid.uuid4(), {"name": "Nobody"})
    assert sink.published == []


# --- delete ----------------------------------------------------------------------------------


async def test_delete_removes_the_profile_and_publishes_profile_deleted(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, _ = await register(store, sink, mentor_registration())
    profile_id = stored.profile.profile_id
    await update_profile(store, sink, profile_id, {"capacity": 5})
    last_version = store.profiles[profile_id].profile.version
    sink.published.clear()

    await delete_profile(store, sink, profile_id)

    assert profile_id not in store.profiles
    assert profile_id not in store.token_hashes
    assert len(sink.published) == 1
    event = sink.published[0]
    assert isinstance(event, ProfileDeleted)
    assert event.profile_id == profile_id
    assert event.kind == "mentor"
    # Newer than every version consumers have seen, so they never skip it as stale.
    assert event.version > last_version


async def test_delete_of_unknown_profile_raises_not_found(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    with pytest.raises(ProfileNotFound):
        await delete_profile(store, sink, uuid.uuid4())
    assert sink.published == []


async def test_deleting_twice_raises_not_found_the_second_time(
    store: FakeProfileStore, sink: RecordingSink
) -> None:
    stored, _ = await register(store, sink, mentee_registration())
    await delete_profile(store, sink, stored.profile.profile_id)
    with pytest.raises(ProfileNotFound):
        await delete_profile(store, sink, stored.profile.profile_id)
    assert [type(e) for e in sink.published] == [MenteeRegistered, ProfileDeleted]
