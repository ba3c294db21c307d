"""The mentorship pages' forms as the mentorship API's request bodies, each remembering which
form control each field came from (see forms.py). Nothing here judges a value: an empty
title, a date that is not one or a missing score goes on as it is, and the API's 422 names
the field, which the page shows beside its control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .forms import ApiRequest, number_or_text, text

#: Rows for milestones on the goal form; rows left empty are not sent.
MILESTONE_ROWS = 5

#: The check-in cadences offered, in weeks.
CADENCE_CHOICES = (1, 2, 4)


def milestone_control(row: int, part: str) -> str:
    """The control of one part (`title`, `due`) of milestone row `row` (from 1)."""
    return f"milestone-{row}-{part}"


def goal_body(form: Mapping[str, Sequence[str]]) -> ApiRequest:
    """A proposed goal: its gap skill, its title and the milestone rows that were filled in."""
    milestones: list[dict[str, Any]] = []
    controls = {"skill": "skill", "title": "title", "milestones": "milestones"}
    for row in range(1, MILESTONE_ROWS + 1):
        title = text(form, milestone_control(row, "title"))
        due_on = text(form, milestone_control(row, "due"))
        if not title and not due_on:
            continue
        index = len(milestones)
        milestones.append({"title": title, "due_on": due_on})
        controls[f"milestones.{index}"] = milestone_control(row, "title")
        controls[f"milestones.{index}.title"] = milestone_control(row, "title")
        controls[f"milestones.{index}.due_on"] = milestone_control(row, "due")
    body = {"skill": text(form, "skill"), "title": text(form, "title"), "milestones": milestones}
    return ApiRequest(body, controls)


def check_in_body(form: Mapping[str, Sequence[str]]) -> ApiRequest:
    return ApiRequest(
        {"discussed": text(form, "discussed"), "next_step": text(form, "next_step")},
        {"discussed": "discussed", "next_step": "next_step"},
    )


def survey_body(form: Mapping[str, Sequence[str]], round_: str) -> ApiRequest:
    """A survey answer. An unanswered score is left out, so the API says it is required."""
    body: dict[str, Any] = {"round": round_}
    for score in ("csat", "nps"):
        value = number_or_text(text(form, score))
        if value is not None:
            body[score] = value
    comment = text(form, "comment")
    body["comment"] = comment or None
    body["share_comment"] = bool(text(form, "share_comment"))
    controls = {name: name for name in ("csat", "nps", "comment", "share_comment")}
    return ApiRequest(body, controls)


_LEVEL_PREFIX = "level-"


def level_control(skill: str) -> str:
    return f"{_LEVEL_PREFIX}{skill}"


def levels_body(form: Mapping[str, Sequence[str]]) -> ApiRequest:
    """The mentee's current level on each skill the form lists (their gap skills), in the
    form's order."""
    levels: list[dict[str, Any]] = []
    controls = {"levels": "levels"}
    for name in form:
        if not name.startswith(_LEVEL_PREFIX):
            continue
        skill = name.removeprefix(_LEVEL_PREFIX)
        controls[f"levels.{len(levels)}"] = name
        levels.append({"skill": skill, "current": number_or_text(text(form, name))})
    return ApiRequest({"levels": levels}, controls)


def cadence_body(form: Mapping[str, Sequence[str]]) -> ApiRequest:
    return ApiRequest({"weeks": number_or_text(text(form, "weeks"))}, {"weeks": "weeks"})


def ending_body(form: Mapping[str, Sequence[str]]) -> ApiRequest:
    return ApiRequest({"reason": text(form, "reason")}, {"reason": "reason"})
