"""The profile API's request and response bodies.

Requests are strict: unknown fields are rejected (clients cannot set ids, versions or
timestamps), types are not coerced, and every rule names the field it guards.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from mentorship_shared.contracts.events import MenteeSkill, MentorSkill
from mentorship_shared.contracts.languages import ISO_639_1
from mentorship_shared.contracts.skills import TAXONOMY
from mentorship_shared.plumbing.urls import MAX_URL_LENGTH, check_public_url
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_skill(value: str) -> str:
    if value not in TAXONOMY:
        raise ValueError(f"unknown skill '{value}'; GET /v1/skills lists the valid ids")
    return value


def _known_timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError(f"unknown timezone '{value}'; use an IANA name such as 'Europe/Berlin'")
    return value


def _language_codes(values: list[str]) -> list[str]:
    unknown = [code for code in values if code not in ISO_639_1]
    if unknown:
        raise ValueError(
            f"not ISO 639-1 language codes: {', '.join(unknown)} (use codes like 'en')"
        )
    if len(set(values)) != len(values):
        raise ValueError("a language is listed twice")
    return values


def _one_line(value: str) -> str:
    # Names and short texts end up in mail headers and subjects, where a line break could
    # smuggle in a header of its own.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must be a single line without control characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _public_link(value: str) -> str:
    # Only the link itself here (scheme, host, IP literals, local names): validators run on the
    # event loop, so what a host name resolves to is checked by the use case, without blocking,
    # before anything is stored.
    return check_public_url(value, resolve=False)


def _no_repeated_skill(skills: list[_SkillT]) -> list[_SkillT]:
    ids = [item.skill for item in skills]
    repeated = sorted({skill for skill in ids if ids.count(skill) > 1})
    if repeated:
        raise ValueError(f"skills listed twice: {', '.join(repeated)}")
    return skills


Level = Annotated[int, Field(ge=0, le=5, description="0 (none) to 5 (expert).")]
SkillId = Annotated[
    str, AfterValidator(_known_skill), Field(description="Skill id from GET /v1/skills.")
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Display name."),
    AfterValidator(_one_line),
    AfterValidator(_not_blank),
]
Timezone = Annotated[
    str,
    AfterValidator(_known_timezone),
    Field(description="IANA timezone, such as 'Europe/Berlin'."),
]
Languages = Annotated[
    list[str],
    Field(min_length=1, max_length=10, description="ISO 639-1 codes, such as ['en', 'de']."),
    AfterValidator(_language_codes),
]
ShortText = Annotated[str, Field(max_length=200), AfterValidator(_one_line)]
LongText = Annotated[str, Field(max_length=2000)]
Industries = Annotated[
    list[ShortText], Field(max_length=10, description="Industries, such as 'fintech'.")
]
BookingUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_LENGTH,
        description=(
            "Public https link where mentees book a first call with you (Calendly, cal.com, ...); "
            "shown to a mentee only once you both accepted. Links to local, private or metadata "
            "addresses are refused."
        ),
    ),
    AfterValidator(_public_link),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class MenteeSkillInput(_Strict):
    skill: SkillId
    current: Level = Field(description="Where you are now, 0 (none) to 5 (expert).")
    target: Level = Field(description="Where you need to be, 0 to 5, not below `current`.")

    @model_validator(mode="after")
    def _target_not_below_current(self) -> MenteeSkillInput:
        if self.target < self.current:
            raise ValueError(f"target ({self.target}) is below current ({self.current})")
        return self


class MentorSkillInput(_Strict):
    skill: SkillId
    level: Level = Field(description="Your strength, 0 (none) to 5 (expert).")


_SkillT = MenteeSkillInput | MentorSkillInput


class _CommonRegistration(_Strict):
    name: Name
    email: EmailStr = Field(description="Where notifications go; one profile per address.")
    timezone: Timezone
    languages: Languages
    current_role: ShortText | None = Field(default=None, description="Current job title.")
    years_experience: int | None = Field(
        default=None, ge=0, le=60, description="Years of professional experience."
    )
    industries: Industries = Field(default_factory=list)


class MenteeRegistration(_CommonRegistration):
    """An engineer's registration with a self-assessment."""

    skills: Annotated[
        list[MenteeSkillInput],
        Field(
            min_length=1, max_length=len(TAXONOMY.skills), description="Self-assessment per skill."
        ),
        AfterValidator(_no_repeated_skill),
    ]
    target_role: ShortText | None = Field(
        default=None, description="The product role you aim for, such as 'Associate PM'."
    )
    goals: LongText | None = Field(default=None, description="What you want from mentoring.")
    max_timezone_difference_hours: int | None = Field(
        default=None, ge=0, le=12, description="Largest timezone difference you accept."
    )

    @field_validator("skills")
    @classmethod
    def _has_a_gap(cls, skills: list[MenteeSkillInput]) -> list[MenteeSkillInput]:
        # A mentor helps with the distance between where you are and where you need to be;
        # with no such distance there is nothing to match on.
        if all(item.target == item.current for item in skills):
            raise ValueError(
                "at least one skill needs a target above its current level; "
                "that gap is what a mentor helps with"
            )
        return skills


class MentorRegistration(_CommonRegistration):
    """A product manager's registration as a mentor."""

    skills: Annotated[
        list[MentorSkillInput],
        Field(min_length=1, max_length=len(TAXONOMY.skills), description="Strength per skill."),
        AfterValidator(_no_repeated_skill),
    ]
    capacity: int = Field(ge=1, le=10, description="How many mentees you take at once (1-10).")
    was_engineer: bool = Field(description="Whether you moved from engineering into product.")
    accepting_mentees: bool = Field(default=True, description="Set false to pause new matches.")
    bio: LongText | None = Field(default=None, description="Short introduction shown to mentees.")
    booking_url: BookingUrl | None = Field(
        default=None,
        description=(
            "Public https link where mentees book a first call with you; shown to a mentee "
            "only once you both accepted."
        ),
    )


class ProfilePatch(_Strict):
    """Fields to change; anything left out stays as it is. Mentee and mentor fields apply only
    to their own kind of profile. `skills` replaces the whole list."""

    name: Name | None = Field(default=None, description="New display name.")
    email: EmailStr | None = Field(default=None, description="New email address.")
    timezone: Timezone | None = Field(default=None, description="New IANA timezone.")
    languages: Languages | None = Field(default=None, description="New list of ISO 639-1 codes.")
    current_role: ShortText | None = Field(default=None, description="Current job title.")
    years_experience: int | None = Field(
        default=None, ge=0, le=60, description="Years of professional experience."
    )
    industries: Industries | None = Field(default=None, description="Industries you know.")
    skills: list[dict[str, object]] | None = Field(
        default=None, description="The new skill list (mentee or mentor shape)."
    )
    target_role: ShortText | None = Field(default=None, description="Mentee: target role.")
    goals: LongText | None = Field(
        default=None, description="Mentee: what you want from mentoring."
    )
    max_timezone_difference_hours: int | None = Field(
        default=None, ge=0, le=12, description="Mentee: largest timezone difference you accept."
    )
    capacity: int | None = Field(
        default=None, ge=1, le=10, description="Mentor: how many mentees at once (1-10)."
    )
    was_engineer: bool | None = Field(
        default=None, description="Mentor: whether you moved from engineering into product."
    )
    accepting_mentees: bool | None = Field(
        default=None, description="Mentor: false pauses new matches."
    )
    bio: LongText | None = Field(default=None, description="Mentor: short introduction.")
    booking_url: BookingUrl | None = Field(
        default=None, description="Mentor: public https booking link; null removes it."
    )


class ProfileView(BaseModel):
    """A profile as its owner sees it."""

    id: uuid.UUID = Field(description="Profile id.")
    kind: Literal["mentee", "mentor"] = Field(description="Mentee or mentor.")
    version: int = Field(description="Grows by one with every change.")
    name: str = Field(description="Display name.")
    email: str = Field(description="Email address.")
    timezone: str = Field(description="IANA timezone.")
    languages: list[str] = Field(description="ISO 639-1 codes.")
    current_role: str | None = Field(default=None, description="Current job title.")
    years_experience: int | None = Field(default=None, description="Years of experience.")
    industries: list[str] = Field(default_factory=list, description="Industries.")
    skills: list[MenteeSkill] | list[MentorSkill] = Field(description="Skills.")
    target_role: str | None = Field(default=None, description="Mentee: target role.")
    goals: str | None = Field(default=None, description="Mentee: goals.")
    max_timezone_difference_hours: int | None = Field(default=None, description="Mentee: limit.")
    capacity: int | None = Field(default=None, description="Mentor: capacity.")
    was_engineer: bool | None = Field(default=None, description="Mentor: came from engineering.")
    accepting_mentees: bool | None = Field(default=None, description="Mentor: accepting mentees.")
    bio: str | None = Field(default=None, description="Mentor: introduction.")
    booking_url: str | None = Field(default=None, description="Mentor: booking link.")
    created_at: datetime = Field(description="When the profile was registered.")
    updated_at: datetime = Field(description="When it last changed.")


class RegistrationView(ProfileView):
    """A profile and its secret token, shown only in this response."""

    token: str = Field(
        description="Secret for 'Authorization: Bearer <token>'; shown once, stored only as a hash."
    )


class SkillView(BaseModel):
    id: str = Field(description="Skill id to use in registrations.")
    name: str = Field(description="Name.")
    description: str = Field(description="What the skill covers.")
    group: str = Field(description="'bring', 'build' or 'career'.")


class SignInLinkRequest(_Strict):
    email: EmailStr = Field(description="The address the profile is registered with.")


class SignInLinkAccepted(BaseModel):
    status: Literal["accepted"] = Field(default="accepted", description="Always 'accepted'.")
    message: str = Field(
        default=(
            "If this address is registered, a sign-in link is on its way to it. It works once, "
            "for a short while."
        ),
        description="The same answer whether or not the address is registered.",
    )


class SignInLinkRedemption(_Strict):
    sign_in_token: str = Field(
        min_length=1, max_length=200, description="The token of the mailed sign-in link."
    )


class SessionView(BaseModel):
    """A session credential: a bearer token for one profile, until it expires."""

    profile_id: uuid.UUID = Field(description="The profile it speaks for.")
    kind: Literal["mentee", "mentor"] = Field(description="Mentee or mentor.")
    session_credential: str = Field(
        description=(
            "Bearer token the profile and matching APIs accept for this profile only; it "
            "cannot be withdrawn before it expires, so keep it like a password."
        )
    )
    expires_at: datetime = Field(description="When it stops working.")
    expires_in_seconds: int = Field(description="Seconds until then.")


class SessionKeyView(BaseModel):
    public_key: str = Field(
        description="Public Ed25519 key (base64url) that checks the session credentials."
    )
