"""Profile events as the profile service publishes them, for tests of the consumers."""

from __future__ import annotations

import uuid
from typing import Any

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeRegistered,
    MenteeSkill,
    MentorProfile,
    MentorRegistered,
    MentorSkill,
)


def mentee(
    current_target: dict[str, tuple[int, int]],
    *,
    languages: tuple[str, ...] = ("en",),
    name: str = "Mentee",
    email: str | None = None,
    **extra: Any,
) -> MenteeProfile:
    profile_id = extra.pop("profile_id", None) or uuid.uuid4()
    return MenteeProfile(
        profile_id=profile_id,
        version=extra.pop("version", 1),
        name=name,
        email=email or f"mentee-{profile_id.hex[:8]}@example.com",
        timezone="Europe/Berlin",
        languages=list(languages),
        skills=[MenteeSkill(skill=s, current=c, target=t) for s, (c, t) in current_target.items()],
        **extra,
    )


def mentor(
    levels: dict[str, int],
    *,
    capacity: int = 2,
    languages: tuple[str, ...] = ("en",),
    name: str = "Mentor",
    email: str | None = None,
    **extra: Any,
) -> MentorProfile:
    profile_id = extra.pop("profile_id", None) or uuid.uuid4()
    return MentorProfile(
        profile_id=profile_id,
        version=extra.pop("version", 1),
        name=name,
        email=email or f"mentor-{profile_id.hex[:8]}@example.com",
        timezone="Europe/Paris",
        languages=list(languages),
        skills=[MentorSkill(skill=s, level=level) for s, level in levels.items()],
        capacity=capacity,
        was_engineer=extra.pop("was_engineer", True),
        **extra,
    )


def registered(profile: MenteeProfile | MentorProfile) -> bytes:
    """The wire bytes of the registration event of `profile`."""
    payload = (
        MenteeRegistered(profile=profile)
        if isinstance(profile, MenteeProfile)
        else MentorRegistered(profile=profile)
    )
    return EventEnvelope.wrap(payload, producer="profile").to_json()
