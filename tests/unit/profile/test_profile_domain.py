"""Building a profile from a registration and changing it (`new_profile`, `apply_changes`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from profile_service.domain import FieldRejected, apply_changes, new_profile
from profile_service.schemas import MenteeRegistration, MentorRegistration
from pydantic import ValidationError

PRICING = "pricing_monetisation"
METRICS = "product_metrics"

MENTEE_ONLY = ("target_role", "goals", "max_timezone_difference_hours")
MENTOR_ONLY = ("capacity", "was_engineer", "accepting_mentees", "bio")


def a_mentee(**overrides: Any) -> MenteeProfile:
    body: dict[str, Any] = {
        "name": "Ada Engineer",
        "email": "ada@example.com",
        "timezone": "Europe/Berlin",
        "languages": ["en"],
        "skills": [
            {"skill": PRICING, "current": 1, "target": 4},
            {"skill": METRICS, "current": 3, "target": 3},
        ],
        "goals": "Ship a pricing change end to end.",
    }
    body.update(overrides)
    profile = new_profile(MenteeRegistration.model_validate(body), uuid.uuid4())
    assert isinstance(profile, MenteeProfile)
    return profile


def a_mentor(**overrides: Any) -> MentorProfile:
    body: dict[str, Any] = {
        "name": "Grace PM",
        "email": "grace@example.com",
        "timezone": "America/New_York",
        "languages": ["en", "fr"],
        "skills": [{"skill": PRICING, "level": 5}],
        "capacity": 2,
        "was_engineer": True,
    }
    body.update(overrides)
    profile = new_profile(MentorRegistration.model_validate(body), uuid.uuid4())
    assert isinstance(profile, MentorProfile)
    return profile


# --- new_profile -----------------------------------------------------------------------------


def test_new_mentee_profile_carries_the_registration_at_version_one() -> None:
    profile_id = uuid.uuid4()
    registration = MenteeRegistration.model_validate(
        {
            "name": "Ada",
            "email": "ada@example.com",
            "timezone": "Europe/Berlin",
            "languages": ["en", "de"],
            "skills": [{"skill": PRICING, "current": 0, "target": 3}],
            "target_role": "Associate PM",
        }
    )
    profile = new_profile(registration, profile_id)
    assert isinstance(profile, MenteeProfile)
    assert profile.kind == "mentee"
    assert profile.profile_id == profile_id
    assert profile.version == 1
    assert profile.languages == ["en", "de"]
    assert profile.target_role == "Associate PM"
    assert [(s.skill, s.current, s.target) for s in profile.skills] == [(PRICING, 0, 3)]


def test_new_mentor_profile_carries_the_registration_at_version_one() -> None:
    profile = a_mentor(bio="Ten years of B2B pricing.")
    assert isinstance(profile, MentorProfile)
    assert profile.kind == "mentor"
    assert profile.version == 1
    assert profile.capacity == 2
    assert profile.was_engineer is True
    assert profile.accepting_mentees is True
    assert profile.bio == "Ten years of B2B pricing."
    assert [(s.skill, s.level) for s in profile.skills] == [(PRICING, 5)]


# --- apply_changes ---------------------------------------------------------------------------


def test_a_real_change_is_reported_and_bumps_the_version() -> None:
    profile = a_mentee()
    updated, changed = apply_changes(profile, {"name": "Ada Lovelace", "goals": "Lead a launch."})
    assert changed == ["goals", "name"]
    assert updated.version == profile.version + 1
    assert updated.profile_id == profile.profile_id
    assert updated.name == "Ada Lovelace"
    assert isinstance(updated, MenteeProfile)
    assert updated.goals == "Lead a launch."
    assert updated.email == profile.email  # untouched fields stay


def test_only_fields_that_really_changed_are_reported() -> None:
    profile = a_mentee()
    updated, changed = apply_changes(profile, {"name": profile.name, "timezone": "Asia/Tokyo"})
    assert changed == ["timezone"]
    assert updated.version == profile.version + 1


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"name": "Ada Engineer"},
        {"name": "  Ada Engineer  "},  # trimmed, so the same name
        {"email": "ada@EXAMPLE.com"},  # the domain is normalised, so the same address
        {"languages": ["en"], "goals": "Ship a pricing change end to end."},
    ],
)
def test_no_real_change_keeps_the_profile_and_version(changes: dict[str, Any]) -> None:
    profile = a_mentee()
    updated, changed = apply_changes(profile, changes)
    assert changed == []
    assert updated == profile
    assert updated.version == profile.version


def test_replacing_skills_is_a_change_and_the_new_list_is_kept() -> None:
    profile = a_mentee()
    skills = [{"skill": METRICS, "current": 2, "target": 5}]
    updated, changed = apply_changes(profile, {"skills": skills})
    assert changed == ["skills"]
    assert isinstance(updated, MenteeProfile)
    assert [(s.skill, s.current, s.target) for s in updated.skills] == [(METRICS, 2, 5)]


def test_mentor_can_pause_and_change_capacity() -> None:
    profile = a_mentor()
    updated, changed = apply_changes(profile, {"accepting_mentees": False, "capacity": 4})
    assert changed == ["accepting_mentees", "capacity"]
    assert isinstance(updated, MentorProfile)
    assert (updated.accepting_mentees, updated.capacity, updated.version) == (False, 4, 2)


def test_versions_keep_growing_over_several_changes() -> None:
    profile: MenteeProfile | MentorProfile = a_mentor()
    for capacity in (3, 4, 5):
        profile, changed = apply_changes(profile, {"capacity": capacity})
        assert changed == ["capacity"]
    assert profile.version == 4


@pytest.mark.parametrize("field", MENTOR_ONLY)
def test_mentor_field_on_a_mentee_is_rejected(field: str) -> None:
    with pytest.raises(FieldRejected) as caught:
        apply_changes(a_mentee(), {"name": "Other", field: 1})
    assert caught.value.field == field
    assert "mentee" in caught.value.message


@pytest.mark.parametrize("field", MENTEE_ONLY)
def test_mentee_field_on_a_mentor_is_rejected(field: str) -> None:
    with pytest.raises(FieldRejected) as caught:
        apply_changes(a_mentor(), {field: "x"})
    assert caught.value.field == field
    assert "mentor" in caught.value.message


@pytest.mark.parametrize(
    ("make", "changes", "bad_location"),
    [
        (a_mentee, {"skills": [{"skill": PRICING, "current": 4, "target": 1}]}, "skills.0"),
        (a_mentee, {"skills": [{"skill": PRICING, "current": 2, "target": 2}]}, "skills"),
        (a_mentee, {"skills": [{"skill": PRICING, "level": 5}]}, "skills.0.level"),
        (a_mentee, {"skills": []}, "skills"),
        (a_mentee, {"name": None}, "name"),
        (a_mentee, {"timezone": "Nowhere/Land"}, "timezone"),
        (a_mentor, {"capacity": 11}, "capacity"),
        (a_mentor, {"skills": [{"skill": "juggling", "level": 5}]}, "skills.0.skill"),
        (a_mentor, {"version": 9}, "version"),
    ],
)
def test_invalid_merged_profile_raises_validation_error(
    make: Any, changes: dict[str, Any], bad_location: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        apply_changes(make(), changes)
    assert bad_location in {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


def test_rejected_change_leaves_the_original_untouched() -> None:
    profile = a_mentor()
    before = profile.model_dump()
    with pytest.raises(ValidationError):
        apply_changes(profile, {"capacity": 0})
    assert profile.model_dump() == before


MENTEE_EDITABLE = (
    "name",
    "email",
    "timezone",
    "languages",
    "current_role",
    "years_experience",
    "industries",
    "skills",
    *MENTEE_ONLY,
)


@settings(max_examples=100, deadline=None)
@given(fields=st.sets(st.sampled_from(MENTEE_EDITABLE)))
def test_sending_current_values_back_changes_nothing(fields: set[str]) -> None:
    profile = a_mentee(current_role="Backend engineer", industries=["fintech"])
    current = profile.model_dump(mode="json")
    updated, changed = apply_changes(profile, {f: current[f] for f in fields})
    assert changed == []
    assert updated.version == profile.version


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20),
    capacity=st.integers(1, 10),
    accepting=st.booleans(),
)
def test_version_grows_exactly_when_something_changed(
    name: str, capacity: int, accepting: bool
) -> None:
    profile = a_mentor()
    changes = {"name": name, "capacity": capacity, "accepting_mentees": accepting}
    updated, changed = apply_changes(profile, changes)
    expected = sorted(f for f, v in changes.items() if getattr(profile, f) != v)
    assert changed == expected
    assert updated.version == profile.version + (1 if expected else 0)
    for field, value in changes.items():
        assert getattr(updated, field) == value
    # Applying the same change again is a no-op.
    again, changed_again = apply_changes(updated, changes)
    assert changed_again == []
    assert again.version == updated.version
