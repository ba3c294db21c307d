"""Between the pages' forms and the services' APIs: form fields to request bodies, and the
API's field errors back onto the form fields they concern.

The rules themselves live in the APIs only. A form is turned into the API's shape without
judging it (a number that is not one is passed on as text, so the API names the field), and
each request remembers which form control each of its fields came from, so that every
`fields[].field` of a 422 answer, such as `skills.3.target`, is shown beside its control,
such as `target-pricing_monetisation`. This module holds that mapping and the profile forms;
mentorship_forms.py the mentorship's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    """A request body built from a form, and the form control each of its fields came from:
    API field paths (`email`, `skills.3`, `skills.3.target`) to control names."""

    body: dict[str, Any]
    controls: Mapping[str, str] = field(default_factory=dict)


def parse_form(body: bytes) -> FormData:
    """An `application/x-www-form-urlencoded` body."""
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def text(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name)
    return values[0].strip() if values else ""


def number_or_text(raw: str) -> int | str | None:
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
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    entries: list[dict[str, Any]] = []
    controls: dict[str, str] = {"skills": "skills"}
    for index, skill in enumerate(skills):
        controls[f"skills.{index}"] = f"skill-{skill.id}"
        if kind == "mentee":
            entries.append(
                {
                    "skill": skill.id,
                    "current": number_or_text(text(form, f"current-{skill.id}")) or 0,
                    "target": number_or_text(text(form, f"target-{skill.id}")) or 0,
                }
            )
            controls[f"skills.{index}.current"] = f"current-{skill.id}"
            controls[f"skills.{index}.target"] = f"target-{skill.id}"
        else:
            entries.append(
                {"skill": skill.id, "level": number_or_text(text(form, f"level-{skill.id}")) or 0}
            )
            controls[f"skills.{index}.level"] = f"level-{skill.id}"
    return entries, controls


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
        number = number_or_text(text(form, name))
        if number is not None or for_change:
            body[name] = number
    if kind == "mentor":
        body["capacity"] = number_or_text(text(form, "capacity"))
        if body["capacity"] is None:
            del body["capacity"]  # the API says it is required
        body["was_engineer"] = _checked(form, "was_engineer")
        body["accepting_mentees"] = not _checked(form, "paused")
    body["skills"], skill_controls = _skills(form, kind, skills)
    controls = {name: name for name in FIELDS[kind]}
    if kind == "mentor":
        controls["accepting_mentees"] = "paused"
    return ApiRequest(body, {**controls, **skill_controls})


def form_field(api_field: str, request: ApiRequest) -> str:
    """The form control an API error path concerns: the control of the path itself or of the
    nearest field above it (`languages.2` is the languages field), or GENERAL."""
    parts = api_field.split(".")
    while parts:
        control = request.controls.get(".".join(parts))
        if control is not None:
            return control
        parts.pop()
    return GENERAL


def field_errors(api_fields: Iterable[tuple[str, str]], request: ApiRequest) -> dict[str, str]:
    """The API's `(field, message)` pairs by form control; several on one control are joined,
    and GENERAL collects those of fields the form does not show."""
    errors: dict[str, list[str]] = {}
    for api_field, message in api_fields:
        name = form_field(api_field, request)
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
