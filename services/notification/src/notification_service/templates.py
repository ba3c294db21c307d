"""What the mails say: pure functions from a notification's context to subject and body.

One template per step of a match (proposed, accepted, declined, expired) and of a mentorship
(started, a check-in coming up, a check-in missed, the first survey, the end), each with a mail
for the mentee and one for the mentor. Only the accepted mail is given the other person's
address (and, for the mentee, the mentor's booking link): before both sides said yes, nobody
learns how to reach the other.

A mentee no mentor suits yet gets a learning plan instead: a mail to them alone, naming nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mentorship_shared.contracts.skills import TAXONOMY

MATCH_PROPOSED = "match_proposed"
MATCH_ACCEPTED = "match_accepted"
MATCH_DECLINED = "match_declined"
MATCH_EXPIRED = "match_expired"
LEARNING_PLAN = "learning_plan"
MENTORSHIP_STARTED = "mentorship_started"
CHECK_IN_REMINDER = "check_in_reminder"
CHECK_IN_MISSED = "check_in_missed"
SURVEY_INVITATION = "survey_invitation"
MENTORSHIP_ENDED = "mentorship_ended"
SIGN_IN_LINK = "sign_in_link"

#: The context key of a sign-in mail's link. The link signs its holder in, so the stored
#: context loses it as soon as the mail is sent or given up (see the repository).
SIGN_IN_LINK_KEY = "sign_in_link"

_SIGNATURE = "Mentorship Matching"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


@dataclass(frozen=True)
class _People:
    role: str  # the recipient's side: 'mentee' or 'mentor'
    recipient: str
    counterpart_name: str | None

    @property
    def counterpart(self) -> str:
        """The other person's name, for the mails that name them."""
        if self.counterpart_name is None:
            raise ValueError("this mail needs the other person's name")
        return self.counterpart_name


def render(
    template: str,
    *,
    recipient_role: str,
    recipient_name: str,
    counterpart_name: str | None,
    context: dict[str, Any],
    counterpart_email: str | None = None,
    counterpart_booking_url: str | None = None,
) -> RenderedMail:
    """Subject and body of one mail. `counterpart_email` reaches the accepted mail only, and
    `counterpart_booking_url` (the mentor's link, already checked) the mentee's accepted mail
    only."""
    if recipient_role not in ("mentee", "mentor"):
        raise ValueError(f"unknown recipient role {recipient_role!r}")
    people = _People(recipient_role, recipient_name, counterpart_name)
    if template == MATCH_ACCEPTED:
        if not counterpart_email:
            raise ValueError("the accepted mail needs the other person's address")
        return _match_accepted(people, counterpart_email, counterpart_booking_url, context)
    writer = _WRITERS.get(template)
    if writer is None:
        raise ValueError(f"unknown mail template {template!r}")
    return writer(people, context)


# --- pieces ----------------------------------------------------------------------------------


def _skill_name(skill_id: str) -> str:
    return TAXONOMY.by_id(skill_id).short_name if skill_id in TAXONOMY else skill_id


def _skill_names(skill_ids: list[str]) -> str:
    names = [_skill_name(s) for s in skill_ids]
    return ", ".join(names) if names else "none"


_KIND_NAMES = {"practice": "Practice", "course": "Course", "book": "Book"}


def _resource_lines(resources: list[dict[str, Any]]) -> list[str]:
    """One line per resource: what it is, what it is called and by whom; a practice (ours, no
    author) with what to do."""
    lines = []
    for resource in resources:
        kind = _KIND_NAMES.get(str(resource["kind"]), str(resource["kind"]).capitalize())
        by = f" ({resource['by']})" if resource.get("by") else ""
        line = f"  - {kind}: {resource['title']}{by}"
        if resource["kind"] == "practice":
            line += f". {resource['summary']}"
        lines.append(line)
    return lines


def _gap_resources(gaps: list[dict[str, Any]]) -> str:
    """Each gap with its resources, as a block of lines."""
    blocks = []
    for gap in gaps:
        name = _skill_name(gap["skill"])
        levels = f" (you {gap['current']} -> {gap['target']})" if "current" in gap else ""
        blocks.append(
            "\n".join(
                [
                    f"{name[:1].upper()}{name[1:]}{levels}:",
                    *_resource_lines(gap["resources"]),
                ]
            )
        )
    return "\n\n".join(blocks)


def _deadline(context: dict[str, Any], key: str = "expires_at") -> str | None:
    """The moment `context[key]` as '2025-03-14 at 09:00 UTC', or None when there is none."""
    raw = context.get(key)
    if not raw:
        return None
    moment = datetime.fromisoformat(str(raw))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d at %H:%M UTC")


def _mail(
    subject: str,
    people: _People,
    paragraphs: list[str],
    context: dict[str, Any],
    *,
    with_reference: bool = True,
) -> RenderedMail:
    """The mail around its paragraphs; the reference a reply quotes, unless there is nothing
    to answer."""
    lines = [f"Hello {people.recipient},"]
    for paragraph in paragraphs:
        lines += ["", paragraph]
    if with_reference:
        reference = (
            f"Mentorship reference: {context['mentorship_id']}"
            if "mentorship_id" in context
            else f"Match reference: {context['match_id']}"
        )
        lines += ["", reference]
    lines += ["", _SIGNATURE]
    return RenderedMail(subject=subject, body="\n".join(lines) + "\n")


# --- proposed --------------------------------------------------------------------------------


def _match_proposed(people: _People, context: dict[str, Any]) -> RenderedMail:
    other = people.counterpart
    score = round(float(context["score"]) * 100)
    requested = context.get("origin") == "request"
    deadline = _deadline(context)
    by_deadline = f" by {deadline}" if deadline else ""
    already_accepted = people.role in context.get("accepted_by", [])

    if people.role == "mentee":
        if requested:
            subject = f"Your request to {other} has been sent"
            opening = (
                f"Your request has reached {other}. We will let you know as soon as {other} "
                "answers."
            )
        else:
            subject = f"{other} could be your product-management mentor"
            opening = f"We found a mentor for your move into product management: {other}."
        details = "\n".join(
            [
                f"Why: {context['explanation']}",
                f"Match score: {score}/100.",
                "",
                f"Gaps {other} covers: {_skill_names(context['covered_skills'])}.",
                f"Gaps to work on elsewhere: {_skill_names(context['uncovered_skills'])}.",
            ]
        )
        learning = [gap for gap in context.get("learning_resources", []) if gap["resources"]]
        if learning:
            details += "\n\nWhere to start on the gaps to work on elsewhere:\n\n" + _gap_resources(
                learning
            )
    else:
        if requested:
            subject = f"{other} has asked you to be their mentor"
            opening = (
                f"{other}, an engineer moving into product management, picked you from their "
                "shortlist and asked you to mentor them. One of your mentoring slots is held "
                "for this request until you answer."
            )
            told = f"Why you were on {other}'s shortlist"
        else:
            subject = f"A new mentee for you: {other}"
            opening = (
                f"{other}, an engineer moving into product management, has been matched with "
                "you. One of your mentoring slots is reserved for this match."
            )
            told = f"What we told {other}"
        details = "\n".join(
            [
                f"Their gaps you cover: {_skill_names(context['covered_skills'])}.",
                f"Match score: {score}/100.",
                "",
                f"{told}: {context['explanation']}",
            ]
        )

    if already_accepted:
        waiting = (
            f"{other} has until {deadline} to accept or decline."
            if deadline
            else f"Now it is up to {other} to accept or decline."
        )
        if deadline and people.role == "mentee":
            waiting += " If there is no answer by then, we will look for another mentor for you."
        answer = (
            f"{waiting} If you change your mind in the meantime, you can still decline the "
            "match, quoting the reference below."
        )
    else:
        answer = f"Please accept or decline the match{by_deadline}, quoting the reference below."
        if deadline:
            answer += " If there is no answer by then, the proposal lapses."
    return _mail(subject, people, [opening, details, answer], context)


# --- accepted --------------------------------------------------------------------------------


def _match_accepted(
    people: _People, email: str, booking_url: str | None, context: dict[str, Any]
) -> RenderedMail:
    other = people.counterpart
    if people.role == "mentee":
        subject = f"{other} is now your mentor"
        paragraphs = [
            f"You and {other} have both accepted, so your mentorship starts now.",
            f"You can reach {other} at {email}. A short hello with what you would like to "
            "work on first is a good way to begin.",
        ]
        if booking_url:
            paragraphs.append(f"Book a first call: {booking_url}")
    else:
        subject = f"Your mentorship with {other} starts now"
        paragraphs = [
            f"You and {other} have both accepted, so your mentorship starts now. The slot we "
            f"held stays with {other}.",
            f"You can reach {other} at {email}. Feel free to write first and suggest a time "
            "for a first conversation.",
        ]
    return _mail(subject, people, paragraphs, context)


# --- declined --------------------------------------------------------------------------------


def _match_declined(people: _People, context: dict[str, Any]) -> RenderedMail:
    other = people.counterpart
    declined_by = context["declined_by"]
    if declined_by not in ("mentee", "mentor"):
        raise ValueError(f"unknown declining side {declined_by!r}")
    if declined_by == people.role:
        subject = f"You declined the match with {other}"
        if people.role == "mentee":
            paragraphs = [
                f"Thanks for letting us know. You declined the match with {other}, and we are "
                "now looking for another mentor for you.",
            ]
        else:
            paragraphs = [
                f"Thanks for answering. You declined the match with {other}, and the slot we "
                f"held is free again. We will not propose {other} to you again.",
            ]
    elif people.role == "mentee":
        subject = f"{other} cannot take you on this time"
        paragraphs = [f"{other} is not able to take you on as a mentee this time."]
        # Only a mentor's reason is ever put in the context, and only in the mentee's.
        reason = str(context.get("mentor_reason") or "").strip()
        if reason:
            paragraphs.append(f"{other} left you a note:\n{reason}")
        paragraphs.append(
            "We are already looking for another mentor for you and will write again as soon "
            "as we have one."
        )
    else:
        subject = f"{other} decided not to go ahead"
        paragraphs = [
            f"{other} has decided not to go ahead with this match. Thank you for being ready "
            f"to help. The slot we held for {other} is free again.",
        ]
    return _mail(subject, people, paragraphs, context)


# --- expired ---------------------------------------------------------------------------------

_LOOKING = "We are looking for another mentor for you and will write again soon."


def _match_expired(people: _People, context: dict[str, Any]) -> RenderedMail:
    reason = context["reason"]
    mentee = people.role == "mentee"
    if reason == "profile_deleted":
        # The other person is gone: no name, no detail.
        subject = "Your match has ended"
        paragraphs = [
            "The other person in your match has left the programme, so the match has ended.",
            _LOOKING if mentee else "Your mentoring slot is free again.",
        ]
        return _mail(subject, people, paragraphs, context)

    other = people.counterpart
    if reason == "timeout":
        subject = f"Your proposed match with {other} has lapsed"
        paragraphs = [
            f"The proposed match with {other} was not answered in time, so it has lapsed."
        ]
        paragraphs.append(_LOOKING if mentee else "The slot we held is free again.")
    elif reason in ("mentor_paused", "capacity_lowered"):
        if mentee:
            subject = f"{other} can no longer take you on"
            paragraphs = [
                f"{other} can no longer take on new mentees, so the proposed match has been "
                "withdrawn.",
                _LOOKING,
            ]
        else:
            change = (
                "paused taking new mentees"
                if reason == "mentor_paused"
                else "lowered the number of mentees you take"
            )
            subject = f"Your proposed match with {other} has been withdrawn"
            paragraphs = [
                f"As you have {change}, we have withdrawn the pending proposal with {other}. "
                f"We will find {other} another mentor.",
            ]
    elif reason == "profile_changed":
        if mentee:
            subject = "Your updated profile fits another mentor better"
            paragraphs = [
                "Your updated profile fits another mentor better, so we have withdrawn the "
                f"proposed match with {other}. You will hear about your new match shortly.",
            ]
        else:
            subject = f"Your proposed match with {other} has been withdrawn"
            paragraphs = [
                f"We have withdrawn the proposed match with {other}, and the slot we held is "
                "free again. There is nothing you need to do.",
            ]
    else:
        raise ValueError(f"unknown expiry reason {reason!r}")
    return _mail(subject, people, paragraphs, context)


# --- learning plan ---------------------------------------------------------------------------


def _learning_plan(people: _People, context: dict[str, Any]) -> RenderedMail:
    if people.role != "mentee":
        raise ValueError("a learning plan goes to the mentee only")
    gaps = context["gaps"]
    if not gaps:
        raise ValueError("a learning plan needs at least one gap")
    version = int(context["plan_version"])
    subject = (
        "Your learning plan for the move into product management"
        if version == 1
        else "Your updated learning plan for the move into product management"
    )
    paragraphs = [
        "We have no mentor yet whose strengths, languages and free time fit your gaps. While we "
        "keep looking, here is a plan to start on them on your own: for each gap, something to "
        "do in your current role or a side project, a course and a book.",
        _gap_resources(gaps),
        "We will write as soon as a mentor fits. If your gaps change, update your profile and "
        "you will get a plan that fits them.",
        f"Plan version {version}.",
    ]
    return _mail(subject, people, paragraphs, context, with_reference=False)


# --- sign-in link ---------------------------------------------------------------------------


def _sign_in_link(people: _People, context: dict[str, Any]) -> RenderedMail:
    until = _deadline(context)
    lines = [
        f"Hello {people.recipient},",
        "",
        "Open this link to sign in to your mentorship pages:",
        "",
        str(context[SIGN_IN_LINK_KEY]),
        "",
        f"It works once{f', until {until}' if until else ''}. If you did not ask for it, "
        "ignore this mail: nobody can sign in without the link.",
        "",
        _SIGNATURE,
    ]
    return RenderedMail(subject="Your sign-in link", body="\n".join(lines) + "\n")


# --- mentorship: started -------------------------------------------------------------------

_LOG_IT = (
    "After each meeting, one of you logs the check-in (what you discussed and the next step), "
    "quoting the reference below; the schedule then starts again from there."
)


def _every(weeks: object) -> str:
    return "every week" if int(str(weeks)) == 1 else f"every {int(str(weeks))} weeks"


def _mentorship_started(people: _People, context: dict[str, Any]) -> RenderedMail:
    other = people.counterpart
    schedule = (
        f"You meet {_every(context['cadence_weeks'])}; the first check-in is due by "
        f"{_deadline(context, 'next_check_in_due')}. Either of you can change the cadence to "
        "every 1, 2 or 4 weeks, and you both get a reminder before each check-in."
    )
    if people.role == "mentee":
        goals = (
            "Start by proposing up to five goals, each on one of the gaps you want to close, "
            "such as a one-page product strategy for a feature you know well, with milestones "
            f"and dates. {other} confirms the goals they can help with."
        )
    else:
        goals = (
            f"{other} will propose up to five goals, each on one of their gaps, with milestones "
            "and dates. Please confirm the ones you can help with."
        )
    subject = f"Your mentorship with {other}: first steps"
    return _mail(subject, people, [goals, schedule, _LOG_IT], context)


# --- mentorship: check-ins ------------------------------------------------------------------


def _check_in_reminder(people: _People, context: dict[str, Any]) -> RenderedMail:
    other = people.counterpart
    number = int(context["check_in_number"])
    due = _deadline(context, "due_at")
    which = "Your first check-in" if number == 1 else f"Check-in {number}"
    return _mail(
        f"{which} with {other} is due by {due}",
        people,
        [
            f"{which} with {other} is due by {due}. If you have not agreed on a time yet, now "
            "is a good moment to write to each other.",
            _LOG_IT,
        ],
        context,
    )


def _check_in_missed(people: _People, context: dict[str, Any]) -> RenderedMail:
    other = people.counterpart
    due = _deadline(context, "due_at")
    lapses = _deadline(context, "lapses_at")
    return _mail(
        f"Your check-in with {other} is overdue",
        people,
        [
            f"The check-in with {other} that was due by {due} has not been logged. If you met, "
            "please log it now; if not, find a time soon.",
            f"Without a check-in by {lapses}, the mentorship lapses and ends.",
        ],
        context,
    )


# --- mentorship: surveys --------------------------------------------------------------------

_QUESTIONS = (
    "Three short questions: how satisfied are you with the mentorship (1 to 5), how likely "
    "are you to recommend {other} (0 to 10), and anything else you want to say. Your comment "
    "is shown to {other} only if you say so."
)


def _survey_invitation(people: _People, context: dict[str, Any]) -> RenderedMail:
    other = people.counterpart
    return _mail(
        f"How is your mentorship with {other} going?",
        people,
        [
            f"You had your first check-in with {other}. Please answer the short survey, "
            "quoting the reference below.",
            _QUESTIONS.format(other=other),
        ],
        context,
    )


# --- mentorship: ended ----------------------------------------------------------------------


def _mentorship_ended(people: _People, context: dict[str, Any]) -> RenderedMail:
    cause = context["cause"]
    mentee = people.role == "mentee"
    due = _deadline(context, "feedback_due_by")
    if cause == "profile_deleted":
        # The other person is gone: no name, no detail, no survey about them.
        paragraphs = [
            "The other person in your mentorship has left the programme, so the mentorship "
            "has ended."
        ]
        if not mentee:
            paragraphs.append("Your mentoring slot is free again.")
        return _mail("Your mentorship has ended", people, paragraphs, context)

    other = people.counterpart
    if context["ending"] == "completed":
        subject = f"Your mentorship with {other} is complete"
        opening = f"Congratulations: your mentorship with {other} is complete" + (
            ", with every agreed goal achieved." if cause == "goals_achieved" else "."
        )
    elif context["ending"] == "lapsed":
        subject = f"Your mentorship with {other} has lapsed"
        opening = (
            f"No check-in with {other} was logged for two cadences, so the mentorship has "
            "lapsed and ended."
        )
    elif context["ending"] == "ended_early":
        subject = f"Your mentorship with {other} has ended"
        opening = (
            f"You ended your mentorship with {other}."
            if context.get("ended_by") == people.role
            else f"{other} has ended your mentorship."
        )
    else:
        raise ValueError(f"unknown ending {context['ending']!r}")
    paragraphs = [opening]
    if not mentee:
        paragraphs.append("Your mentoring slot is free again.")
    closing = f"Please answer the closing survey by {due}."
    if mentee:
        closing += " Please also re-assess your current level on the skills you worked on."
    paragraphs += [closing, _QUESTIONS.format(other=other)]
    return _mail(subject, people, paragraphs, context)


_WRITERS: dict[str, Callable[[_People, dict[str, Any]], RenderedMail]] = {
    SIGN_IN_LINK: _sign_in_link,
    MATCH_PROPOSED: _match_proposed,
    MATCH_DECLINED: _match_declined,
    MATCH_EXPIRED: _match_expired,
    LEARNING_PLAN: _learning_plan,
    MENTORSHIP_STARTED: _mentorship_started,
    CHECK_IN_REMINDER: _check_in_reminder,
    CHECK_IN_MISSED: _check_in_missed,
    SURVEY_INVITATION: _survey_invitation,
    MENTORSHIP_ENDED: _mentorship_ended,
}
