"""The profile API's request models: strict, closed, and every rule names its field."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.contracts.languages import ISO_639_1
from mentorship_shared.contracts.skills import TAXONOMY
from profile_service.schemas import (
    MenteeRegistration,
    MenteeSkillInput,
    MentorRegistration,
    ProfilePatch,
)
from pydantic import BaseModel, ValidationError

PRICING = "pricing_monetisation"
METRICS = "product_metrics"


def mentee_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Ada Engineer",
        "email": "ada@example.com",
        "timezone": "Europe/Berlin",
        "languages": ["en", "de"],
        "skills": [
            {"skill": PRICING, "current": 1, "target": 4},
            {"skill": METRICS, "current": 3, "target": 3},
        ],
    }
    body.update(overrides)
    return body


def mentor_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Grace PM",
        "email": "grace@example.com",
        "timezone": "America/New_York",
        "languages": ["en"],
        "skills": [{"skill": PRICING, "level": 5}, {"skill": METRICS, "level": 2}],
        "capacity": 3,
        "was_engineer": True,
    }
    body.update(overrides)
    return body


def errors_of(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted location, message) of every error; fails if the body is valid."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def locations(model: type[BaseModel], body: dict[str, Any]) -> set[str]:
    return {loc for loc, _ in errors_of(model, body)}


# --- valid bodies ----------------------------------------------------------------------------


def test_valid_mentee_registration_is_accepted_with_defaults() -> None:
    registration = MenteeRegistration.model_validate(mentee_body(name="  Ada Engineer  "))
    assert registration.name == "Ada Engineer"  # surrounding whitespace is trimmed
    assert registration.industries == []
    assert registration.goals is None
    assert [s.skill for s in registration.skills] == [PRICING, METRICS]


def test_valid_mentor_registration_is_accepted_with_defaults() -> None:
    registration = MentorRegistration.model_validate(mentor_body())
    assert registration.accepting_mentees is True
    assert registration.capacity == 3


@pytest.mark.parametrize("capacity", [1, 10])
def test_mentor_capacity_bounds_are_inclusive(capacity: int) -> None:
    assert MentorRegistration.model_validate(mentor_body(capacity=capacity)).capacity == capacity


# --- closed and strict -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["profile_id", "version", "kind", "created_at", "nickname"])
def test_unknown_or_system_fields_are_rejected(field: str) -> None:
    assert field in locations(MenteeRegistration, mentee_body(**{field: "x"}))
    assert field in locations(MentorRegistration, mentor_body(**{field: "x"}))


def test_unknown_field_inside_a_skill_is_rejected() -> None:
    skills = [{"skill": PRICING, "current": 1, "target": 4, "weight": 2}]
    assert "skills.0.weight" in locations(MenteeRegistration, mentee_body(skills=skills))


@pytest.mark.parametrize("value", ["3", 3.0, True, None])
def test_levels_are_not_coerced(value: object) -> None:
    skills = [{"skill": PRICING, "current": value, "target": 4}]
    assert "skills.0.current" in locations(MenteeRegistration, mentee_body(skills=skills))


@pytest.mark.parametrize(
    ("field", "value"),
    [("capacity", "3"), ("capacity", 3.0), ("was_engineer", "true"), ("was_engineer", 1)],
)
def test_mentor_fields_are_not_coerced(field: str, value: object) -> None:
    assert field in locations(MentorRegistration, mentor_body(**{field: value}))


def test_languages_must_be_a_list_not_a_string() -> None:
    assert "languages" in locations(MenteeRegistration, mentee_body(languages="en"))


# --- levels and gaps -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 6, 100])
def test_levels_outside_zero_to_five_are_rejected(value: int) -> None:
    mentee_skills = [{"skill": PRICING, "current": 0, "target": value}]
    assert "skills.0.target" in locations(MenteeRegistration, mentee_body(skills=mentee_skills))
    mentor_skills = [{"skill": PRICING, "level": value}]
    assert "skills.0.level" in locations(MentorRegistration, mentor_body(skills=mentor_skills))


@settings(max_examples=100, deadline=None)
@given(current=st.integers(0, 5), target=st.integers(0, 5))
def test_skill_input_is_valid_exactly_when_target_is_not_below_current(
    current: int, target: int
) -> None:
    body = {"skill": PRICING, "current": current, "target": target}
    if target >= current:
        assert MenteeSkillInput.model_validate(body).target == target
    else:
        ((_, message),) = errors_of(MenteeSkillInput, body)
        assert "below current" in message


def test_target_below_current_names_the_skill_entry() -> None:
    skills = [
        {"skill": PRICING, "current": 1, "target": 4},
        {"skill": METRICS, "current": 4, "target": 2},
    ]
    assert locations(MenteeRegistration, mentee_body(skills=skills)) == {"skills.1"}


def test_mentee_needs_at_least_one_gap() -> None:
    skills = [
        {"skill": PRICING, "current": 2, "target": 2},
        {"skill": METRICS, "current": 5, "target": 5},
    ]
    ((loc, message),) = errors_of(MenteeRegistration, mentee_body(skills=skills))
    assert loc == "skills"
    assert "target above its current level" in message


@pytest.mark.parametrize("model_body", [mentee_body, mentor_body])
def test_skills_must_not_be_empty(model_body: Any) -> None:
    model = MenteeRegistration if model_body is mentee_body else MentorRegistration
    assert "skills" in locations(model, model_body(skills=[]))


def test_unknown_skill_id_is_rejected_with_a_hint() -> None:
    skills = [{"skill": "juggling", "current": 0, "target": 3}]
    [(loc, message)] = errors_of(MenteeRegistration, mentee_body(skills=skills))
    assert loc == "skills.0.skill"
    assert "juggling" in message


def test_repeated_skill_is_rejected_for_mentees_and_mentors() -> None:
    twice_mentee = [
        {"skill": PRICING, "current": 0, "target": 3},
        {"skill": PRICING, "current": 1, "target": 2},
    ]
    [(loc, message)] = errors_of(MenteeRegistration, mentee_body(skills=twice_mentee))
    assert loc == "skills"
    assert PRICING in message
    twice_mentor = [{"skill": PRICING, "level": 5}, {"skill": PRICING, "level": 4}]
    [(loc, message)] = errors_of(MentorRegistration, mentor_body(skills=twice_mentor))
    assert loc == "skills"
    assert PRICING in message


def test_every_taxonomy_skill_at_once_is_accepted() -> None:
    skills = [{"skill": s, "level": 3} for s in TAXONOMY.ids]
    assert len(MentorRegistration.model_validate(mentor_body(skills=skills)).skills) == len(
        TAXONOMY.ids
    )


# --- people fields ---------------------------------------------------------------------------


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "CEST", "+02:00", "europe/berlin", ""])
def test_unknown_timezones_are_rejected(timezone: str) -> None:
    assert "timezone" in locations(MenteeRegistration, mentee_body(timezone=timezone))


@settings(max_examples=50, deadline=None)
@given(timezone=st.sampled_from(sorted(available_timezones())))
def test_every_iana_timezone_is_accepted(timezone: str) -> None:
    assert MenteeRegistration.model_validate(mentee_body(timezone=timezone)).timezone == timezone


@pytest.mark.parametrize(
    "languages", [["EN"], ["eng"], ["en", "xx"], ["en", "en"], [], ["e"], [""]]
)
def test_languages_must_be_distinct_iso_639_1_codes(languages: list[str]) -> None:
    assert "languages" in locations(MenteeRegistration, mentee_body(languages=languages))


@settings(max_examples=50, deadline=None)
@given(languages=st.lists(st.sampled_from(sorted(ISO_639_1)), min_size=1, max_size=10, unique=True))
def test_distinct_iso_639_1_codes_are_accepted(languages: list[str]) -> None:
    assert (
        MenteeRegistration.model_validate(mentee_body(languages=languages)).languages == languages
    )


def test_at_most_ten_languages() -> None:
    eleven = sorted(ISO_639_1)[:11]
    assert "languages" in locations(MenteeRegistration, mentee_body(languages=eleven))


@pytest.mark.parametrize("capacity", [0, 11, -1])
def test_mentor_capacity_outside_one_to_ten_is_rejected(capacity: int) -> None:
    assert "capacity" in locations(MentorRegistration, mentor_body(capacity=capacity))


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", ""])
def test_invalid_email_is_rejected(email: str) -> None:
    assert "email" in locations(MenteeRegistration, mentee_body(email=email))


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_blank_or_overlong_name_is_rejected(name: str) -> None:
    assert "name" in locations(MenteeRegistration, mentee_body(name=name))


def test_years_of_experience_bounds() -> None:
    assert "years_experience" in locations(MenteeRegistration, mentee_body(years_experience=61))
    assert "years_experience" in locations(MenteeRegistration, mentee_body(years_experience=-1))
    assert MenteeRegistration.model_validate(mentee_body(years_experience=0)).years_experience == 0


def test_several_errors_are_reported_together() -> None:
    body = mentee_body(timezone="Nowhere/City", languages=["zz"], email="nope")
    assert {"timezone", "languages", "email"} <= locations(MenteeRegistration, body)


# --- the patch -------------------------------------------------------------------------------


def test_patch_keeps_only_what_was_sent() -> None:
    patch = ProfilePatch.model_validate({"name": "New Name", "goals": None})
    assert patch.model_dump(exclude_unset=True) == {"name": "New Name", "goals": None}


@pytest.mark.parametrize(
    "body",
    [
        {"version": 3},
        {"kind": "mentor"},
        {"profile_id": "00000000-0000-0000-0000-000000000000"},
        {"capacity": 11},
        {"capacity": "2"},
        {"timezone": "Atlantis/Capital"},
        {"languages": ["en", "en"]},
        {"max_timezone_difference_hours": 13},
    ],
)
def test_patch_rejects_system_fields_and_invalid_values(body: dict[str, Any]) -> None:
    assert set(body) <= locations(ProfilePatch, body)


@pytest.mark.parametrize("name", ["Ada\nBcc: x@example.com", "Ada\rLovelace", "Ada\x00", "Ada\tL"])
def test_names_are_one_line_without_control_characters(name: str) -> None:
    assert "name" in locations(MenteeRegistration, mentee_body(name=name))


def test_short_texts_are_one_line_but_goals_may_have_paragraphs() -> None:
    assert "current_role" in locations(MenteeRegistration, mentee_body(current_role="Dev\nOps"))
    MenteeRegistration.model_validate(mentee_body(goals="First this.\n\nThen that."))
