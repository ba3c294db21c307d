"""Form fields to profile API bodies, and the API's field errors back onto the form."""

from __future__ import annotations

from web_service.forms import (
    GENERAL,
    SkillInfo,
    field_errors,
    form_field,
    form_from_profile,
    parse_form,
    profile_body,
)

SKILLS = [
    SkillInfo("pricing_monetisation", "Pricing", "How the product makes money.", "build"),
    SkillInfo("product_strategy", "Strategy", "Where the product goes.", "build"),
]


def engineer_form(**changes: str) -> dict[str, list[str]]:
    fields = {
        "name": " Erin ",
        "email": "erin@example.com",
        "timezone": "Europe/Berlin",
        "languages": "EN, de",
        "industries": "fintech, health",
        "target_role": "",
        "years_experience": "6",
        "current-pricing_monetisation": "1",
        "target-pricing_monetisation": "4",
        "current-product_strategy": "2",
        "target-product_strategy": "2",
    }
    fields.update(changes)
    return {name: [value] for name, value in fields.items()}


def test_an_urlencoded_body_keeps_repeated_and_blank_fields() -> None:
    form = parse_form(b"a=1&a=2&b=&c=%C3%A9t%C3%A9+x")
    assert form == {"a": ["1", "2"], "b": [""], "c": ["été x"]}


def test_an_engineer_form_becomes_the_registration_body() -> None:
    request = profile_body(engineer_form(), "mentee", SKILLS)
    assert request.body == {
        "name": "Erin",
        "email": "erin@example.com",
        "timezone": "Europe/Berlin",
        "languages": ["en", "de"],
        "industries": ["fintech", "health"],
        "years_experience": 6,
        "skills": [
            {"skill": "pricing_monetisation", "current": 1, "target": 4},
            {"skill": "product_strategy", "current": 2, "target": 2},
        ],
    }
    assert request.controls["skills.1.target"] == "target-product_strategy"


def test_text_where_a_number_belongs_goes_to_the_api_as_it_is() -> None:
    request = profile_body(engineer_form(years_experience="six"), "mentee", SKILLS)
    assert request.body["years_experience"] == "six"


def test_a_change_sends_emptied_optional_fields_as_null_to_clear_them() -> None:
    request = profile_body(engineer_form(years_experience=""), "mentee", SKILLS, for_change=True)
    assert request.body["target_role"] is None
    assert request.body["goals"] is None
    assert request.body["years_experience"] is None
    assert request.body["max_timezone_difference_hours"] is None


def test_a_mentor_form_says_paused_as_not_accepting_mentees() -> None:
    form = {
        "name": ["Priya"],
        "email": ["priya@example.com"],
        "timezone": ["Europe/London"],
        "languages": ["en"],
        "capacity": ["2"],
        "was_engineer": ["yes"],
        "paused": ["yes"],
        "level-pricing_monetisation": ["5"],
    }
    body = profile_body(form, "mentor", SKILLS).body
    assert body["capacity"] == 2
    assert body["was_engineer"] is True
    assert body["accepting_mentees"] is False
    assert body["skills"] == [
        {"skill": "pricing_monetisation", "level": 5},
        {"skill": "product_strategy", "level": 0},
    ]
    del form["paused"], form["was_engineer"], form["capacity"]
    body = profile_body(form, "mentor", SKILLS).body
    assert body["accepting_mentees"] is True
    assert body["was_engineer"] is False
    assert "capacity" not in body  # left out, so the API says it is required


def test_api_error_paths_land_on_the_controls_they_came_from() -> None:
    engineer = profile_body(engineer_form(), "mentee", SKILLS)
    pm = profile_body({}, "mentor", SKILLS)
    assert form_field("skills.1.target", engineer) == "target-product_strategy"
    assert form_field("skills.0.current", engineer) == "current-pricing_monetisation"
    assert form_field("skills.0", engineer) == "skill-pricing_monetisation"
    assert form_field("skills.0.level", pm) == "level-pricing_monetisation"
    assert form_field("skills", engineer) == "skills"
    assert form_field("skills.7.target", engineer) == "skills"
    assert form_field("languages.2", engineer) == "languages"
    assert form_field("accepting_mentees", pm) == "paused"
    assert form_field("capacity", engineer) == GENERAL  # not on an engineer's form
    assert form_field("body", pm) == GENERAL


def test_several_messages_on_one_control_are_joined_once_each() -> None:
    request = profile_body(engineer_form(), "mentee", SKILLS[:1])
    errors = field_errors(
        [
            ("email", "value is not a valid email address"),
            ("email", "value is not a valid email address"),
            ("skills.0", "target (1) is below current (3)"),
            ("party", "unknown"),
        ],
        request,
    )
    assert errors == {
        "email": "value is not a valid email address",
        "skill-pricing_monetisation": "target (1) is below current (3)",
        GENERAL: "unknown",
    }


def test_a_stored_profile_fills_the_edit_form() -> None:
    mentor = {
        "kind": "mentor",
        "name": "Priya",
        "email": "priya@example.com",
        "timezone": "Europe/London",
        "languages": ["en", "hi"],
        "industries": [],
        "capacity": 2,
        "was_engineer": True,
        "accepting_mentees": False,
        "booking_url": None,
        "skills": [{"skill": "pricing_monetisation", "level": 5}],
    }
    values = form_from_profile(mentor)
    assert values["languages"] == ["en, hi"]
    assert values["paused"] == ["yes"]
    assert values["was_engineer"] == ["yes"]
    assert values["level-pricing_monetisation"] == ["5"]
    assert "booking_url" not in values
    # And back: the same body the registration would send.
    body = profile_body(values, "mentor", SKILLS).body
    assert body["accepting_mentees"] is False
    assert body["skills"][0] == {"skill": "pricing_monetisation", "level": 5}
