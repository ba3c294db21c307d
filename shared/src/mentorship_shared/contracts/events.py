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
from .learning_resources import ResourceKind
from .topics import MATCH_EVENTS, MENTORSHIP_EVENTS, NOTIFICATION_EVENTS, PROFILE_EVENTS

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


class SuggestedResource(_Model):
    """A practice, course or book from the learning-resource catalogue, as a mail shows it."""

    id: str = Field(description="Resource id in the catalogue version the event names.")
    kind: ResourceKind = Field(description="'practice', 'course' or 'book'.")
    title: str = Field(description="Title of the work, or a short name of the practice.")
    by: str | None = Field(default=None, description="Authors or provider; null for a practice.")
    summary: str = Field(description="What it is and why it helps, in a sentence or two.")


class GapResources(_Model):
    """What to work on one gap with, when no mentor covers it."""

    skill: str = Field(description="Skill id of the gap.")
    resources: list[SuggestedResource] = Field(
        description="One to three resources, something to do at work first, then to study."
    )


class LearningGap(GapResources):
    """One gap of a learning plan: where the mentee is, where they need to be, what helps."""

    current: Level = Field(description="The mentee's current level, 0 to 5.")
    target: Level = Field(description="The level the mentee needs, 0 to 5.")


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
    learning_resources: list[GapResources] = Field(
        default_factory=list,
        description=(
            "For each gap this mentor does not cover (as in uncovered_skills, in that order), "
            "resources from the learning-resource catalogue to work on it with."
        ),
    )
    resources_version: int | None = Field(
        default=None,
        description="Version of the learning-resource catalogue learning_resources come from.",
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


class MatchConcluded(_MatchEvent):
    """The mentorship of an accepted match ended: the match is over and its mentor's slot is
    free again. The pair is not proposed again."""

    event_type: ClassVar[str] = "MatchConcluded"

    mentorship_id: uuid.UUID = Field(description="The mentorship that ended.")
    ending: MentorshipEnding = Field(
        description=(
            "How the mentorship ended: 'completed', 'ended_early' (a side ended it or left) or "
            "'lapsed' (no check-in for too long)."
        )
    )
    concluded_at: AwareDatetime = Field(description="When the mentorship ended.")


class LearningPlanIssued(EventPayload):
    """No mentor with a free slot meets the mentee's needs: the matcher gives them a learning
    plan for their gaps instead, once per plan version, while they keep waiting for a mentor."""

    event_type: ClassVar[str] = "LearningPlanIssued"
    topic: ClassVar[str] = MATCH_EVENTS

    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    plan_version: int = Field(
        ge=1,
        description="1 for the mentee's first plan; grows when their gaps or the catalogue change.",
    )
    resources_version: int = Field(
        ge=1, description="Version of the learning-resource catalogue the resources come from."
    )
    gaps: list[LearningGap] = Field(
        min_length=1,
        description="Every gap of the mentee, the one that matters most for their target first.",
    )

    def aggregate_id(self) -> str:
        return str(self.mentee_id)


# --- mentorships ---------------------------------------------------------------------------

#: Weeks between two check-ins, agreed when the mentorship starts.
CadenceWeeks = Literal[1, 2, 4]
FeedbackRound = Literal["first_check_in", "closing"]
MentorshipEnding = Literal["completed", "ended_early", "lapsed"]
EndCause = Literal["goals_achieved", "both_agreed", "requested", "profile_deleted", "no_check_in"]


class _MentorshipEvent(EventPayload):
    topic: ClassVar[str] = MENTORSHIP_EVENTS

    mentorship_id: uuid.UUID = Field(description="Id of the mentorship.")
    match_id: uuid.UUID = Field(description="The accepted match the mentorship grew from.")
    mentee_id: uuid.UUID = Field(description="Profile id of the mentee.")
    mentor_id: uuid.UUID = Field(description="Profile id of the mentor.")

    def aggregate_id(self) -> str:
        return str(self.mentorship_id)


class MentorshipStarted(_MentorshipEvent):
    """Both sides accepted the match: the mentorship runs from now on."""

    event_type: ClassVar[str] = "MentorshipStarted"

    started_at: AwareDatetime = Field(description="When the mentorship started.")
    cadence_weeks: CadenceWeeks = Field(
        description="Weeks between check-ins (1, 2 or 4); either side may change it."
    )
    next_check_in_due: AwareDatetime = Field(description="When the first check-in is due.")


class GoalProposed(_MentorshipEvent):
    """The mentee proposed a goal; it counts once the mentor agrees."""

    event_type: ClassVar[str] = "GoalProposed"

    goal_id: uuid.UUID = Field(description="Id of the goal.")
    skill: str = Field(description="Skill id of the mentee's gap the goal works on.")
    title: str = Field(description="The goal in the mentee's words.")
    milestones: int = Field(ge=0, description="How many milestones the goal has so far.")


class GoalAgreed(_MentorshipEvent):
    """The mentor confirmed a goal the mentee proposed."""

    event_type: ClassVar[str] = "GoalAgreed"

    goal_id: uuid.UUID = Field(description="Id of the goal.")
    skill: str = Field(description="Skill id of the mentee's gap the goal works on.")
    title: str = Field(description="The goal in the mentee's words.")
    agreed_at: AwareDatetime = Field(description="When the mentor agreed.")


class GoalAchieved(_MentorshipEvent):
    """An agreed goal was marked achieved."""

    event_type: ClassVar[str] = "GoalAchieved"

    goal_id: uuid.UUID = Field(description="Id of the goal.")
    skill: str = Field(description="Skill id of the mentee's gap the goal works on.")
    achieved_by: MatchParty = Field(description="Which side marked it achieved.")
    achieved_at: AwareDatetime = Field(description="When it was marked achieved.")


class CheckInCadenceChanged(_MentorshipEvent):
    """One side changed how often the two meet; the next check-in is one new cadence away."""

    event_type: ClassVar[str] = "CheckInCadenceChanged"

    cadence_weeks: CadenceWeeks = Field(description="Weeks between check-ins from now on.")
    changed_by: MatchParty = Field(description="Which side changed it.")
    next_check_in_due: AwareDatetime = Field(description="When the next check-in is due.")


class CheckInReminderIssued(_MentorshipEvent):
    """A check-in is coming up: both sides are reminded, once per check-in."""

    event_type: ClassVar[str] = "CheckInReminderIssued"

    check_in_number: int = Field(ge=1, description="Which check-in is coming (1 for the first).")
    due_at: AwareDatetime = Field(description="When the check-in is due.")


class CheckInMissed(_MentorshipEvent):
    """A check-in is overdue: a nudge to both sides, once per check-in, before the mentorship
    lapses."""

    event_type: ClassVar[str] = "CheckInMissed"

    check_in_number: int = Field(ge=1, description="Which check-in was missed.")
    due_at: AwareDatetime = Field(description="When it was due.")
    lapses_at: AwareDatetime = Field(
        description="When the mentorship lapses unless a check-in is logged before."
    )


class CheckInLogged(_MentorshipEvent):
    """One side logged a check-in (what was discussed and the next step stay in the service)."""

    event_type: ClassVar[str] = "CheckInLogged"

    check_in_number: int = Field(ge=1, description="1 for the first check-in, and so on.")
    logged_by: MatchParty = Field(description="Which side logged it.")
    logged_at: AwareDatetime = Field(description="When it was logged.")
    next_check_in_due: AwareDatetime = Field(description="When the next check-in is due.")


class FeedbackRequested(_MentorshipEvent):
    """Both sides are asked for the short survey: after the first check-in and at the end."""

    event_type: ClassVar[str] = "FeedbackRequested"

    round: FeedbackRound = Field(
        description="'first_check_in': after the first check-in; 'closing': at the end."
    )
    respond_by: AwareDatetime | None = Field(
        default=None,
        description="For the closing round, when the outcome is recorded with what came in.",
    )


class FeedbackGiven(_MentorshipEvent):
    """One side answered the survey. The free text stays in the service; the other side sees
    it only when its author consented."""

    event_type: ClassVar[str] = "FeedbackGiven"

    given_by: MatchParty = Field(description="Which side answered.")
    round: FeedbackRound = Field(description="Which survey round the answer belongs to.")
    csat: int = Field(
        ge=1, le=5, description="How satisfied with the mentorship, 1 (not at all) to 5 (very)."
    )
    nps: int = Field(
        ge=0,
        le=10,
        description="How likely to recommend the other person, 0 (not at all) to 10 (certainly).",
    )
    has_comment: bool = Field(description="Whether the answer has free text.")
    comment_shared: bool = Field(
        description="Whether its author consented to show the free text to the other side."
    )


class SkillProgress(_Model):
    """Progress on one of the mentee's gaps, measured against the level at the start."""

    skill: str = Field(description="Skill id of one of the mentee's gaps.")
    start: Level = Field(description="The mentee's level when the mentorship started.")
    target: Level = Field(description="The level the mentee needs.")
    current: Level = Field(description="The mentee's level at the latest re-assessment.")
    levels_closed: int = Field(
        ge=0, description="Levels of the gap closed: current minus start, within 0 and the gap."
    )
    gap_closed: float = Field(
        ge=0.0, le=1.0, description="Share of the gap closed, 0 (none) to 1 (all of it)."
    )


class SkillsReassessed(_MentorshipEvent):
    """The mentee re-assessed their current level on some of their gap skills."""

    event_type: ClassVar[str] = "SkillsReassessed"

    assessed_at: AwareDatetime = Field(description="When the mentee re-assessed.")
    assessed_skills: list[str] = Field(description="Skill ids the mentee gave a new level for.")
    skills: list[SkillProgress] = Field(
        description="Progress on every gap skill of the mentorship after this re-assessment."
    )
    gap_closed_overall: float = Field(
        ge=0.0,
        le=1.0,
        description="Levels closed over all gap skills divided by the levels of all gaps.",
    )


class CompletionProposed(_MentorshipEvent):
    """One side proposed to end the mentorship as completed; it completes when the other side
    agrees."""

    event_type: ClassVar[str] = "CompletionProposed"

    proposed_by: MatchParty = Field(description="Which side proposed it.")
    proposed_at: AwareDatetime = Field(description="When.")


class MentorshipEnded(_MentorshipEvent):
    """The mentorship ended: the mentor's slot is free again. The closing survey and the last
    re-assessment stay open until `feedback_due_by`; MentorshipOutcomeRecorded follows."""

    event_type: ClassVar[str] = "MentorshipEnded"

    ending: MentorshipEnding = Field(
        description=(
            "'completed': the goals were achieved or both sides agreed it is done; "
            "'ended_early': one side ended it (or left); 'lapsed': no check-in for two cadences."
        )
    )
    cause: EndCause = Field(
        description=(
            "'goals_achieved' and 'both_agreed' complete it; 'requested' (a side ended it) and "
            "'profile_deleted' end it early; 'no_check_in' lets it lapse."
        )
    )
    ended_by: MatchParty | None = Field(
        description="The side that ended it, or whose profile was deleted; None when it lapsed."
    )
    ended_at: AwareDatetime = Field(description="When it ended.")
    feedback_due_by: AwareDatetime = Field(
        description="Until when the closing survey and the last re-assessment are taken."
    )


class SideFeedback(_Model):
    """One side's survey answer as the outcome carries it (the scores, never the text)."""

    round: FeedbackRound = Field(description="The survey round of this answer (closing if given).")
    csat: int = Field(ge=1, le=5, description="Satisfaction, 1 to 5.")
    nps: int = Field(ge=0, le=10, description="Likelihood to recommend the other person, 0 to 10.")


class MentorshipOutcomeRecorded(_MentorshipEvent):
    """The outcome of a finished mentorship, once per mentorship: when both closing surveys are
    in, or when `feedback_due_by` of MentorshipEnded passed. What the matcher learns from."""

    event_type: ClassVar[str] = "MentorshipOutcomeRecorded"

    ending: MentorshipEnding = Field(description="How the mentorship ended.")
    completed: bool = Field(description="True when the ending is 'completed'.")
    started_at: AwareDatetime = Field(description="When the mentorship started.")
    ended_at: AwareDatetime = Field(description="When it ended.")
    mentee_feedback: SideFeedback | None = Field(
        description="The mentee's latest survey answer (the closing one if given), if any."
    )
    mentor_feedback: SideFeedback | None = Field(
        description="The mentor's latest survey answer (the closing one if given), if any."
    )
    skills: list[SkillProgress] = Field(description="Progress per gap skill at the end.")
    gap_closed_overall: float | None = Field(
        ge=0.0,
        le=1.0,
        description="Share of all gap levels closed; None when no gap skill was known.",
    )
    check_ins: int = Field(ge=0, description="Check-ins logged.")
    goals_agreed: int = Field(ge=0, description="Goals the mentor agreed to.")
    goals_achieved: int = Field(ge=0, description="Agreed goals marked achieved.")


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
        MatchConcluded,
        LearningPlanIssued,
        NotificationSent,
        NotificationFailed,
        MentorshipStarted,
        GoalProposed,
        GoalAgreed,
        GoalAchieved,
        CheckInCadenceChanged,
        CheckInReminderIssued,
        CheckInMissed,
        CheckInLogged,
        FeedbackRequested,
        FeedbackGiven,
        SkillsReassessed,
        CompletionProposed,
        MentorshipEnded,
        MentorshipOutcomeRecorded,
    )
}
