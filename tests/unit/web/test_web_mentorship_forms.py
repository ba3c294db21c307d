"""The mentorship forms as the mentorship API's bodies, and its field errors back beside the
controls they came from."""

from __future__ import annotations

from web_service.forms import GENERAL, field_errors
from web_service.mentorship_forms import goal_body, levels_body, survey_body


def test_a_goal_sends_the_filled_milestone_rows_only_and_maps_errors_to_their_row() -> None:
    request = goal_body(
        {
            "skill": ["pricing_monetisation"],
            "title": [" Price the team plan "],
            "milestone-1-title": [""],
            "milestone-1-due": [""],
            "milestone-2-title": ["Draft the page"],
            "milestone-2-due": ["2027-02-01"],
            "milestone-3-title": ["Ask sales"],
            "milestone-3-due": ["next week"],
        }
    )
    assert request.body == {
        "skill": "pricing_monetisation",
        "title": "Price the team plan",
        "milestones": [
            {"title": "Draft the page", "due_on": "2027-02-01"},
            {"title": "Ask sales", "due_on": "next week"},  # the API judges the date
        ],
    }
    errors = field_errors(
        [
            ("milestones.1.due_on", "Input should be a valid date"),
            ("milestones.0.title", "too short"),
            ("title", "String should have at least 3 characters"),
            ("goals", "A mentorship has at most 5 goals"),
            ("milestones", "at most 10"),
        ],
        request,
    )
    assert errors == {
        "milestone-3-due": "Input should be a valid date",
        "milestone-2-title": "too short",
        "title": "String should have at least 3 characters",
        GENERAL: "A mentorship has at most 5 goals",
        "milestones": "at most 10",
    }


def test_a_survey_sends_scores_as_numbers_leaves_out_the_unanswered_and_says_consent() -> None:
    request = survey_body(
        {"csat": ["4"], "comment": ["Helpful"], "share_comment": ["yes"]}, "closing"
    )
    assert request.body == {
        "round": "closing",
        "csat": 4,
        "comment": "Helpful",
        "share_comment": True,
    }
    request = survey_body({"csat": ["four"], "nps": ["9"], "comment": [""]}, "first_check_in")
    assert request.body == {
        "round": "first_check_in",
        "csat": "four",
        "nps": 9,
        "comment": None,
        "share_comment": False,
    }
    errors = field_errors([("nps", "Field required"), ("round", "answered already")], request)
    assert errors == {"nps": "Field required", GENERAL: "answered already"}


def test_levels_follow_the_form_s_skills_in_order() -> None:
    request = levels_body(
        {"csrf_token": ["t"], "level-pricing_monetisation": ["3"], "level-product_strategy": ["x"]}
    )
    assert request.body == {
        "levels": [
            {"skill": "pricing_monetisation", "current": 3},
            {"skill": "product_strategy", "current": "x"},
        ]
    }
    errors = field_errors(
        [("levels.1.current", "Input should be a valid integer"), ("levels", "Give one")], request
    )
    assert errors == {
        "level-product_strategy": "Input should be a valid integer",
        "levels": "Give one",
    }
