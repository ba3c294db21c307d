"""Event payloads, grouped by topic.

Events are facts in the past tense. Profile events carry the whole profile as it is after the
change (with a version that only grows), so a consumer can rebuild its copy from any one event
and ignore stale ones.
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .envelope import EventPayload
from .topics import MATCH_EVENTS, NOTIFICATION_EVENTS, PROFILE_EVENTS

Level = Annotated[int, Field(ge=0, le=5)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- profiles ------------------------------------------------------------------------------


class MenteeSkill(_Model):
    """One skill of a mentee's self-assessment: where they are and where they need to be."""

    skill: str = Field(description="Skill id from the taxonomy.")
    current: Level = Field(description="Where the mentee is now, 0 (none) to 5 (expert).")
    target: Level = Field(description="Where the mentee needs to be, 0 to 5, never below current.")


class MentorSkill(_Model):
    """One skill a mentor can teach, with how strong they are in it."""

    skill: str = Field(description="Skill id from the taxonomy.")
    level: Level = Field(description="The mentor's strength, 0 (none) to 5 (expert).")


class _ProfileCommon(_Model):
    profile_id: uuid.UUID = Field(description="Id of the profile.")
    version: int = Field(
        ge=1, description="Grows by one with every change; consumers skip stale versions."
    )
    name: str = Field(description="Display name.")
    email: str = Field(description="Email address used for notifications.")
    timezone: str = Field(description="IANA timezone name, such as 'Europe/Berlin'.")
    languages: list[str] = Field(description="ISO 639-1 codes of the languages the person speaks.")
    current_role: str | None = Field(default=None, description="Current job title.")
    years_experience: int | None = Field(
        default=None, description="Years of professional experience."
    )
    industries: list[str] = Field(default_factory=list, description="Industries the person knows.")


class MenteeProfile(_ProfileCommon):
    """An engineer who wants to move into product management."""

    kind: Literal["mentee"] = Field(
        default="mentee", description="Always 'mentee': tells the two kinds of profile apart."
    )
    skills: list[MenteeSkill] = Field(
        description="Self-assessment: current and target level per skill."
    )
    target_role: str | None = Field(
        default=None, description="The product role the mentee aims for."
    )
    goals: str | None = Field(default=None, description="What the mentee wants from mentoring.")
    max_timezone_difference_hours: int | None = Field(
        default=None, description="Largest timezone difference the mentee accepts, if any."
    )


class MentorProfile(_ProfileCommon):
    """A product manager who volunteers as a mentor."""

    kind: Literal["mentor"] = Field(
        default="mentor", description="Always 'mentor': tells the two kinds of profile apart."
    )
    skills: list[MentorSkill] = Field(description="Strength per skill.")
    capacity: int = Field(ge=1, le=10, description="How many mentees the mentor takes at once.")
    was_engineer: bool = Field(
        description="Whether the mentor moved from engineering into product."
    )
    accepting_mentees: bool = Field(default=True, description="False while the mentor has paused.")
    bio: str | None = Field(default=None, description="Short introduction shown to mentees.")
    booking_url: str | None = Field(
        default=None,
        description=(
            "Public https link where a mentee books a first call; given to the mentee only once "
            "both accepted. Checked to point at a public address when registered and again "
            "before every use."
        ),
    )


AnyProfile = Annotated[MenteeProfile | MentorProfile, Field(discriminator="kind")]


class _ProfileEvent(EventPayload):
    """A profile event that carries the whole profile and its owner's credential."""

    topic: ClassVar[str] = PROFILE_EVENTS

    owner_credential: str | None = Field(
        default=None,
        description=(
            "SHA-256 (hex) of the owner's bearer token, so every service can recognise the "
            "owner without asking the profile service; changes when the token is rotated."
        ),
    )


class MenteeRegistered(_ProfileEvent):
    """An engineer registered as a mentee."""

    event_type: ClassVar[str] = "MenteeRegistered"

    profile: MenteeProfile = Field(description="The new profile.")

    def aggregate_id(self) -> str:
        return str(self.profile.profile_id)


class MentorRegistered(_ProfileEvent):
    """A product manager registered as a mentor."""

    event_type: ClassVar[str] = "MentorRegistered"

    profile: MentorProfile = Field(description="The new profile.")

    def aggregate_id(self) -> str:
        return str(self.profile.profile_id)


class ProfileUpdated(_ProfileEvent):
    """A profile changed; carries the whole profile as it is now."""

    event_type: ClassVar[str] = "ProfileUpdated"

    profile: AnyProfile = Field(description="The profile after the change.")
    changed_fields: list[str] = Field(
        description="Names of the fields the change touched ('token' for a rotated token)."
    )

    def aggregate_id(self) -> str:
        return str(self.profile.profile_id)


class ProfileDeleted(EventPayload):
    """A profile was deleted; consumers drop or anonymise their copies."""

    event_type: ClassVar[str] = "ProfileDeleted"
    topic: ClassVar[str] = PROFILE_EVENTS

    profile_id: uuid.UUID = Field(description="Id of the deleted profile.")
    kind: Literal["mentee", "mentor"] = Field(description="Kind of the deleted profile.")
    version: int = Field(ge=1, description="Version of the profile at deletion.")

    def aggregate_id(self) -> str:
        return str(self.profile_id)


class SignInLinkRequested(EventPayload):
    """A person asked for a link to sign in to the web pages; the notification service mails
    it to the profile's address."""

    event_type: ClassVar[str] = "SignInLinkRequested"
    topic: ClassVar[str] = PROFILE_EVENTS

    profile_id: uuid.UUID = Field(description="Id of the profile the link signs in to.")
    kind: Literal["mentee", "mentor"] = Field(description="Kind of that profile.")
    link_token: str = Field(
        description=(
            "The link's one-time secret, in the clear because it must reach the mail. It "
            "works once and only until `expires_at`; the profile service keeps only its hash. "
            "Consumers must not log it or keep it after the mail is sent."
        )
    )
    expires_at: AwareDatetime = Field(
        description="When the link stops working; a mail that would arrive later is not sent."
    )

    def aggregate_id(self) -> str:
        return str(self.profile_id)


# --- matches -------------------------------------------------------------------------------


MatchOrigin = Literal["online", "request", "round"]
MatchParty = Literal["mentee", "mentor"]
ExpiryReason = Literal[
    "timeout", "profile_deleted", "mentor_paused", "capacity_lowered", "profile_changed"
]


class _MatchEvent(EventPayload):
    topic: ClassVar[str] = MATCH_EVENTS

    match_id: uuid.UUID = Field(description="Id of the match.")
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    mentor_id: uuid.UUID = Field(description="Profile id of the mentor.")

    def aggregate_id(self) -> str:
        return str(self.match_id)


class MatchProposed(_MatchEvent):
    """The matcher proposed a mentor to a mentee and reserved one of the mentor's slots."""

    event_type: ClassVar[str] = "MatchProposed"

    score: float = Field(ge=0.0, le=1.0, description="Overall match score, 0 to 1.")
    score_breakdown: dict[str, float] = Field(description="Components of the score by name.")
    explanation: str = Field(description="Why this mentor, in plain words.")
    covered_skills: list[str] = Field(
        description="Skill ids of the mentee's gaps this mentor covers."
    )
    uncovered_skills: list[str] = Field(description="Skill ids of gaps this mentor does not cover.")
    algorithm_version: str = Field(description="Version of the scoring algorithm.")
    weights_version: str | None = Field(
        default=None, description="Version of the scoring weights and role profiles."
    )
    origin: MatchOrigin = Field(
        default="online",
        description=(
            "'online': proposed when the mentee or a free slot appeared; 'request': the mentee "
            "picked this mentor from the shortlist; 'round': a cohort round assigned it."
        ),
    )
    round_id: uuid.UUID | None = Field(
        default=None, description="The cohort round that proposed it, if any."
    )
    accepted_by: list[MatchParty] = Field(
        default_factory=list,
        description="Sides that have already accepted (a mentee's own request counts as theirs).",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the proposal lapses if nobody answers."
    )


class MatchAccepted(_MatchEvent):
    """Both sides accepted the proposal: the mentorship starts and the slot stays taken."""

    event_type: ClassVar[str] = "MatchAccepted"

    accepted_at: AwareDatetime = Field(description="When the second side accepted.")


class MatchDeclined(_MatchEvent):
    """One side declined the proposal: the slot is released and the pair is never proposed
    again."""

    event_type: ClassVar[str] = "MatchDeclined"

    declined_by: MatchParty = Field(description="Which side declined.")
    reason: str | None = Field(default=None, description="The reason given, if any.")


class MatchExpired(_MatchEvent):
    """An open proposal or match ended without a decline: the slot is released."""

    event_type: ClassVar[str] = "MatchExpired"

    reason: ExpiryReason = Field(
        description=(
            "'timeout': nobody answered in time; 'profile_deleted': one side left; "
            "'mentor_paused' and 'capacity_lowered': the mentor took fewer mentees; "
            "'profile_changed': the mentee's needs changed and a better mentor exists."
        )
    )


# --- notifications -------------------------------------------------------------------------

Channel = Literal["email"]
RecipientRole = Literal["mentee", "mentor"]


class _NotificationOutcome(EventPayload):
    topic: ClassVar[str] = NOTIFICATION_EVENTS

    notification_id: uuid.UUID = Field(description="Id of the notification record.")
    source_event_id: uuid.UUID = Field(description="The event the notification is about.")
    source_event_type: str = Field(description="Type of that event, such as 'MatchProposed'.")
    recipient_id: uuid.UUID = Field(description="Profile id of the recipient.")
    recipient_role: RecipientRole = Field(
        description="Whether the recipient is the mentee or the mentor."
    )
    channel: Channel = Field(description="Delivery channel.")

    def aggregate_id(self) -> str:
        return str(self.notification_id)


class NotificationSent(_NotificationOutcome):
    """A notification was handed to the mail server."""

    event_type: ClassVar[str] = "NotificationSent"

    message_id: str = Field(description="Message-ID header of the mail; the same on any resend.")
    sent_at: AwareDatetime = Field(description="When the mail server accepted the mail.")


class NotificationFailed(_NotificationOutcome):
    """A notification could not be delivered after its attempts."""

    event_type: ClassVar[str] = "NotificationFailed"

    error: str = Field(description="The last error.")
    attempts: int = Field(ge=1, description="How many sends were tried.")


EVENT_TYPES: dict[str, type[EventPayload]] = {
    model.event_type: model
    for model in (
        MenteeRegistered,
        MentorRegistered,
        ProfileUpdated,
        ProfileDeleted,
        SignInLinkRequested,
        MatchProposed,
        MatchAccepted,
        MatchDeclined,
        MatchExpired,
        NotificationSent,
        NotificationFailed,
    )
}
