"""Profiles as the product sees them: building one from a registration and changing it."""

from __future__ import annotations

import uuid
from typing import Any

from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from mentorship_shared.plumbing.urls import AsyncResolver, UrlRefused, check_public_url_async

from .schemas import MenteeRegistration, MentorRegistration

Profile = MenteeProfile | MentorProfile
Registration = MenteeRegistration | MentorRegistration

_MENTEE_ONLY = frozenset({"target_role", "goals", "max_timezone_difference_hours"})
_MENTOR_ONLY = frozenset({"capacity", "was_engineer", "accepting_mentees", "bio", "booking_url"})
# Fields the profile document has that a client never writes.
_SYSTEM_FIELDS = frozenset({"profile_id", "version", "kind"})


class FieldRejected(Exception):
    """A change names a field that does not apply; carries the field for the error body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def new_profile(registration: Registration, profile_id: uuid.UUID) -> Profile:
    data = registration.model_dump()
    if isinstance(registration, MenteeRegistration):
        return MenteeProfile(profile_id=profile_id, version=1, **data)
    return MentorProfile(profile_id=profile_id, version=1, **data)


def apply_changes(profile: Profile, changes: dict[str, Any]) -> tuple[Profile, list[str]]:
    """The profile with `changes` applied and the names of the fields that really changed.

    The merged profile is validated by the same rules as a registration, so a change cannot
    produce a profile that could not have been registered. Raises FieldRejected for a field
    of the other kind, pydantic's ValidationError for invalid values.
    """
    wrong_kind = _MENTOR_ONLY if profile.kind == "mentee" else _MENTEE_ONLY
    for field in changes:
        if field in wrong_kind:
            raise FieldRejected(field, f"'{field}' does not apply to a {profile.kind} profile")
    current = profile.model_dump(mode="json", exclude=set(_SYSTEM_FIELDS))
    merged = {**current, **changes}
    registration_model = MenteeRegistration if profile.kind == "mentee" else MentorRegistration
    registration = registration_model.model_validate(merged)
    updated_fields = registration.model_dump(mode="json")
    changed = sorted(field for field in changes if updated_fields.get(field) != current.get(field))
    if not changed:
        return profile, []
    updated = new_profile(registration, profile.profile_id).model_copy(
        update={"version": profile.version + 1}
    )
    return updated, changed


async def check_booking_link(url: str | None, *, resolver: AsyncResolver | None = None) -> None:
    """Refuse a mentor's booking link whose host does not resolve, or resolves to any address
    that is not public. The link's spelling was checked when the request was read; the lookup
    is done here, without blocking the event loop and with a timeout. Raises FieldRejected."""
    if url is None:
        return
    try:
        await check_public_url_async(url, resolver=resolver)
    except UrlRefused as error:
        raise FieldRejected("booking_url", f"The booking link is refused: {error}.") from error
