"""Between the pages' forms and the profile API: form fields to request bodies, and the API's
field errors back onto the form fields they concern.

The rules themselves live in the profile API only. This module turns what a browser sends
into the API's shapes without judging it (a number that is not one is passed on as text, so
the API names the field), and maps each `fields[].field` of a 422 answer, such as
`skills.3.target`, to the form control it came from, such as `target-pricing_monetisation`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

#: Every value a form sent, by field name (a name can repeat).
FormData = dict[str, list[str]]

Kind = Literal["mentee", "mentor"]

#: Where the messages of fields no control shows go.
GENERAL = ""


@dataclass(frozen=True)
class SkillInfo:
    """One skill of the taxonomy, as GET /v1/skills describes it."""

    id: str
    name: str
    description: str
    group: str


@dataclass(frozen=True)
class ApiRequest:
    """A request body built from a form, and which skill each entry of its `skills` is."""

    body: dict[str, Any]
    skill_order: tuple[str, ...] = ()


def parse_form(body: bytes) -> FormData:
    """An `application/x-www-form-urlencoded` body."""
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def text(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name)
    return values[0].strip() if values else ""


def _number(raw: str) -> int | str | None:
    """An integer when the text is one; the text itself otherwise, for the API to refuse."""
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _language_codes(raw: str) -> list[str]:
    return [code.lower() for code in re.split(r"[\s,;]+", raw) if code]


def _checked(form: Mapping[str, Sequence[str]], name: str) -> bool:
    return bool(text(form, name))


_COMMON_TEXT = ("name", "email", "timezone")
_OPTIONAL = {
    "mentee": ("current_role", "target_role", "goals"),
    "mentor": ("current_role", "bio", "booking_url"),
}
_OPTIONAL_NUMBERS = {
    "mentee": ("years_experience", "max_timezone_difference_hours"),
    "mentor": ("years_experience",),
}

#: Names of the form controls of each kind of profile (error keys beyond the skill rows).
FIELDS: dict[Kind, frozenset[str]] = {
    "mentee": frozenset(
        {*_COMMON_TEXT, "languages", "industries", "skills"}
        | set(_OPTIONAL["mentee"])
        | set(_OPTIONAL_NUMBERS["mentee"])
    ),
    "mentor": frozenset(
        {*_COMMON_TEXT, "languages", "industries", "skills", "capacity", "was_engineer", "paused"}
        | set(_OPTIONAL["mentor"])
        | set(_OPTIONAL_NUMBERS["mentor"])
    ),
}


def _skills(
    form: Mapping[str, Sequence[str]], kind: Kind, skills: Sequence[SkillInfo]
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    entries: list[dict[str, Any]] = []
    for skill in skills:
        if kind == "mentee":
            entries.append(
                {
                    "skill": skill.id,
                    "current": _number(text(form, f"current-{skill.id}")) or 0,
                    "target": _number(text(form, f"target-{skill.id}")) or 0,
                }
            )
        else:
            entries.append(
                {"skill": skill.id, "level": _number(text(form, f"level-{skill.id}")) or 0}
            )
    return entries, tuple(skill.id for skill in skills)


def profile_body(
    form: Mapping[str, Sequence[str]],
    kind: Kind,
    skills: Sequence[SkillInfo],
    *,
    for_change: bool = False,
) -> ApiRequest:
    """The registration body of a mentee or mentor form (`for_change`: the body of a change
    to an existing profile, where an emptied optional field clears it instead of being left
    out)."""
    body: dict[str, Any] = {name: text(form, name) for name in _COMMON_TEXT}
    body["languages"] = _language_codes(text(form, "languages"))
    industries = _items(text(form, "industries"))
    if industries or for_change:
        body["industries"] = industries
    for name in _OPTIONAL[kind]:
        value = text(form, name)
        if value or for_change:
            body[name] = value or None
    for name in _OPTIONAL_NUMBERS[kind]:
        number = _number(text(form, name))
        if number is not None or for_change:
            body[name] = number
    if kind == "mentor":
        body["capacity"] = _number(text(form, "capacity"))
        if body["capacity"] is None:
            del body["capacity"]  # the API says it is required
        body["was_engineer"] = _checked(form, "was_engineer")
        body["accepting_mentees"] = not _checked(form, "paused")
    body["skills"], order = _skills(form, kind, skills)
    return ApiRequest(body, order)


_SKILL_PATH = re.compile(r"^skills\.(\d+)(?:\.(\w+))?")
_SKILL_PARTS = {"current": "current", "target": "target", "level": "level"}
_RENAMED = {"accepting_mentees": "paused"}


def form_field(api_field: str, request: ApiRequest, kind: Kind) -> str:
    """The form control an API error path concerns, or GENERAL."""
    match = _SKILL_PATH.match(api_field)
    if match:
        index, part = int(match.group(1)), match.group(2)
        if index >= len(request.skill_order):
            return "skills"
        skill_id = request.skill_order[index]
        prefix = _SKILL_PARTS.get(part or "", "skill")
        return f"{prefix}-{skill_id}"
    top = _RENAMED.get(api_field.split(".")[0], api_field.split(".")[0])
    return top if top in FIELDS[kind] else GENERAL


def field_errors(
    api_fields: Iterable[tuple[str, str]], request: ApiRequest, kind: Kind
) -> dict[str, str]:
    """The API's `(field, message)` pairs by form control; several on one control are joined,
    and GENERAL collects those of fields the form does not show."""
    errors: dict[str, list[str]] = {}
    for api_field, message in api_fields:
        name = form_field(api_field, request, kind)
        if message not in errors.setdefault(name, []):
            errors[name].append(message)
    return {name: "; ".join(messages) for name, messages in errors.items()}


def form_from_profile(profile: Mapping[str, Any]) -> FormData:
    """The values of the edit form for a profile as GET /v1/profiles/{id} returns it."""
    values: FormData = {}

    def put(name: str, value: object) -> None:
        if value is None:
            return
        values[name] = [str(value)]

    for name in (*_COMMON_TEXT, "current_role", "years_experience"):
        put(name, profile.get(name))
    put("languages", ", ".join(profile.get("languages") or []))
    put("industries", ", ".join(profile.get("industries") or []))
    if profile.get("kind") == "mentee":
        for name in ("target_role", "goals", "max_timezone_difference_hours"):
            put(name, profile.get(name))
        for skill in profile.get("skills") or []:
            put(f"current-{skill['skill']}", skill["current"])
            put(f"target-{skill['skill']}", skill["target"])
    else:
        for name in ("capacity", "bio", "booking_url"):
            put(name, profile.get(name))
        if profile.get("was_engineer"):
            put("was_engineer", "yes")
        if profile.get("accepting_mentees") is False:
            put("paused", "yes")
        for skill in profile.get("skills") or []:
            put(f"level-{skill['skill']}", skill["level"])
    return values
