"""What the mails of every step of a match say to the mentee and to the mentor."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.contracts.skills import TAXONOMY
from notification_service.templates import (
    CHECK_IN_MISSED,
    CHECK_IN_REMINDER,
    MATCH_ACCEPTED,
    MATCH_DECLINED,
    MATCH_EXPIRED,
    MATCH_PROPOSED,
    MENTORSHIP_ENDED,
    MENTORSHIP_STARTED,
    SURVEY_INVITATION,
    RenderedMail,
    render,
)

MATCH_ID = str(uuid.UUID(int=42))
EXPLANATION = (
    "Covers your gap in pricing (you 1 -> 5, mentor 5). Not covered: product metrics. "
    "Made the move from engineering to product too."
)
ADA_EMAIL = "ada@example.com"
GRACE_EMAIL = "grace@example.com"
EXPIRY_REASONS = [
    "timeout",
    "profile_deleted",
    "mentor_paused",
    "capacity_lowered",
    "profile_changed",
]


def context(**overrides: Any) -> dict[str, Any]:
    """The context of a MatchProposed mail."""
    base: dict[str, Any] = {
        "match_id": MATCH_ID,
        "origin": "online",
        "accepted_by": [],
        "score": 0.8765,
        "explanation": EXPLANATION,
        "covered_skills": ["pricing_monetisation"],
        "uncovered_skills": ["product_metrics"],
        "expires_at": "2025-03-14T09:00:00+00:00",
    }
    return base | overrides


def rendered(
    template: str,
    role: str,
    ctx: dict[str, Any],
    *,
    with_email: bool = False,
    counterpart_known: bool = True,
) -> RenderedMail:
    """Ada is the mentee, Grace the mentor."""
    recipient, counterpart = ("Ada", "Grace") if role == "mentee" else ("Grace", "Ada")
    counterpart_email = GRACE_EMAIL if role == "mentee" else ADA_EMAIL
    return render(
        template,
        recipient_role=role,
        recipient_name=recipient,
        counterpart_name=counterpart if counterpart_known else None,
        context=ctx,
        counterpart_email=counterpart_email if with_email else None,
    )


def mail(role: str, **overrides: Any) -> tuple[str, str]:
    m = rendered(MATCH_PROPOSED, role, context(**overrides))
    return m.subject, m.body


def declined(declined_by: str, **extra: Any) -> dict[str, Any]:
    return {"match_id": MATCH_ID, "declined_by": declined_by, **extra}


def expired(reason: str) -> dict[str, Any]:
    return {"match_id": MATCH_ID, "reason": reason}


# Every mail that goes out before both sides accepted, with the context it is queued with.
BEFORE_ACCEPTANCE: list[tuple[str, str, dict[str, Any]]] = [
    *(
        (MATCH_PROPOSED, role, context(origin=origin, accepted_by=accepted))
        for role in ("mentee", "mentor")
        for origin, accepted in (("online", []), ("round", []), ("request", ["mentee"]))
    ),
    *(
        (
            MATCH_DECLINED,
            role,
            declined(by, **({"mentor_reason": "Busy"} if by == "mentor" else {})),
        )
        for role in ("mentee", "mentor")
        for by in ("mentee", "mentor")
    ),
    *(
        (MATCH_EXPIRED, role, expired(reason))
        for role in ("mentee", "mentor")
        for reason in EXPIRY_REASONS
    ),
]


# --- proposed --------------------------------------------------------------------------------


def test_mentee_mail_names_the_mentor_and_explains_why() -> None:
    subject, body = mail("mentee")
    assert "Grace" in subject
    assert body.startswith("Hello Ada,")
    assert "Grace" in body
    assert EXPLANATION in body
    assert "pricing" in body  # covered gap by short name
    assert "product metrics" in body  # gap to work on elsewhere
    assert "88/100" in body
    assert MATCH_ID in body


def test_mentor_mail_names_the_mentee_and_what_they_were_told() -> None:
    subject, body = mail("mentor")
    assert "Ada" in subject
    assert body.startswith("Hello Grace,")
    assert "Ada" in body
    assert EXPLANATION in body
    assert "reserved" in body  # the mentor learns a slot is taken
    assert MATCH_ID in body


@pytest.mark.parametrize("origin", ["online", "round"])
@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_a_proposal_asks_both_to_accept_or_decline_by_the_deadline(origin: str, role: str) -> None:
    _, body = mail(role, origin=origin)
    assert "accept or decline the match by 2025-03-14 at 09:00 UTC" in body
    assert f"Match reference: {MATCH_ID}" in body
    assert "asked" not in body


def test_the_deadline_is_shown_in_utc() -> None:
    _, body = mail("mentor", expires_at="2025-03-14T18:30:00+09:00")
    assert "by 2025-03-14 at 09:30 UTC" in body


def test_no_expiry_means_no_deadline() -> None:
    _, body = mail("mentee", expires_at=None)
    assert "Please accept or decline the match, quoting the reference below." in body
    assert "lapses" not in body
    assert " UTC" not in body


def test_a_requested_mentor_hears_that_the_mentee_asked_for_them() -> None:
    subject, body = mail("mentor", origin="request", accepted_by=["mentee"])
    assert subject == "Ada has asked you to be their mentor"
    assert "asked you to mentor them" in body
    assert "accept or decline the match by 2025-03-14 at 09:00 UTC" in body
    assert MATCH_ID in body


def test_a_requesting_mentee_hears_the_request_is_waiting_for_the_mentor() -> None:
    subject, body = mail("mentee", origin="request", accepted_by=["mentee"])
    assert subject == "Your request to Grace has been sent"
    assert "Grace has until 2025-03-14 at 09:00 UTC to accept or decline" in body
    assert "another mentor" in body  # what happens if Grace does not answer
    assert "Please accept" not in body  # their request already counts as accepting
    assert "still decline" in body
    assert MATCH_ID in body


def test_mentee_and_mentor_mails_differ() -> None:
    assert mail("mentee") != mail("mentor")
    assert mail("mentee", origin="request", accepted_by=["mentee"]) != mail("mentee")
    assert mail("mentor", origin="request", accepted_by=["mentee"]) != mail("mentor")


def test_skill_ids_unknown_to_the_taxonomy_are_shown_as_they_are() -> None:
    _, body = mail("mentee", covered_skills=["ai_product_sense"], uncovered_skills=[])
    assert "ai_product_sense" in body
    assert "none" in body  # no uncovered gaps


@settings(max_examples=100, deadline=None)
@given(
    role=st.sampled_from(["mentee", "mentor"]),
    score=st.floats(0.0, 1.0),
    covered=st.lists(st.sampled_from(TAXONOMY.ids), unique=True, max_size=4),
)
def test_score_is_shown_out_of_one_hundred_and_covered_gaps_by_short_name(
    role: str, score: float, covered: list[str]
) -> None:
    _, body = mail(role, score=score, covered_skills=covered)
    assert f"{round(score * 100)}/100" in body
    for skill in covered:
        assert TAXONOMY.by_id(skill).short_name in body
    assert body.endswith("\n")


# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "role", "ctx"), BEFORE_ACCEPTANCE)
def test_no_mail_before_acceptance_shows_an_address_even_when_given_one(
    template: str, role: str, ctx: dict[str, Any]
) -> None:
    known = not (template == MATCH_EXPIRED and ctx["reason"] == "profile_deleted")
    m = rendered(template, role, ctx, with_email=True, counterpart_known=known)
    assert "@" not in m.subject + m.body


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_the_accepted_mail_gives_the_other_persons_name_and_address(role: str) -> None:
    m = rendered(MATCH_ACCEPTED, role, {"match_id": MATCH_ID}, with_email=True)
    other, other_email, own_email = (
        ("Grace", GRACE_EMAIL, ADA_EMAIL) if role == "mentee" else ("Ada", ADA_EMAIL, GRACE_EMAIL)
    )
    assert other in m.subject
    assert f"You can reach {other} at {other_email}." in m.body
    assert own_email not in m.body
    assert "starts now" in m.body
    assert MATCH_ID in m.body


def test_mentee_and_mentor_accepted_mails_differ() -> None:
    to_mentee = rendered(MATCH_ACCEPTED, "mentee", {"match_id": MATCH_ID}, with_email=True)
    to_mentor = rendered(MATCH_ACCEPTED, "mentor", {"match_id": MATCH_ID}, with_email=True)
    assert to_mentee != to_mentor


def test_the_accepted_mail_cannot_be_written_without_the_address() -> None:
    with pytest.raises(ValueError, match="address"):
        rendered(MATCH_ACCEPTED, "mentee", {"match_id": MATCH_ID}, with_email=False)


# --- declined --------------------------------------------------------------------------------


def test_a_mentee_turned_down_hears_the_mentors_reason_and_that_we_keep_looking() -> None:
    m = rendered(MATCH_DECLINED, "mentee", declined("mentor", mentor_reason="Booked until June."))
    assert "Grace" in m.subject
    assert "Grace is not able to take you on" in m.body
    assert "Booked until June." in m.body
    assert "looking for another mentor" in m.body
    assert MATCH_ID in m.body


def test_a_mentor_without_a_reason_leaves_no_empty_note() -> None:
    for ctx in (declined("mentor"), declined("mentor", mentor_reason="  ")):
        m = rendered(MATCH_DECLINED, "mentee", ctx)
        assert "note" not in m.body
        assert "looking for another mentor" in m.body


def test_a_mentor_turned_down_hears_the_slot_is_free_again() -> None:
    m = rendered(MATCH_DECLINED, "mentor", declined("mentee"))
    assert m.subject == "Ada decided not to go ahead"
    assert "free again" in m.body
    assert "note" not in m.body


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_the_side_that_declined_gets_a_short_confirmation(role: str) -> None:
    m = rendered(MATCH_DECLINED, role, declined(role))
    other = "Grace" if role == "mentee" else "Ada"
    assert m.subject == f"You declined the match with {other}"
    assert "You declined" in m.body
    expected = "looking for another mentor" if role == "mentee" else "free again"
    assert expected in m.body


def test_the_declining_mentor_does_not_get_their_own_reason_echoed() -> None:
    # The mentor's reason is only ever queued with the mentee's mail; even if it were given
    # to the mentor's confirmation, that mail does not show it.
    m = rendered(MATCH_DECLINED, "mentor", declined("mentor", mentor_reason="Booked."))
    assert "Booked." not in m.body


def test_an_unknown_declining_side_raises() -> None:
    with pytest.raises(ValueError, match="declining side"):
        rendered(MATCH_DECLINED, "mentee", declined("matcher"))


# --- expired ---------------------------------------------------------------------------------

EXPECTED_EXPIRY_WORDING: dict[tuple[str, str], list[str]] = {
    ("timeout", "mentee"): ["not answered in time", "looking for another mentor", "Grace"],
    ("timeout", "mentor"): ["not answered in time", "free again", "Ada"],
    ("profile_deleted", "mentee"): ["left the programme", "looking for another mentor"],
    ("profile_deleted", "mentor"): ["left the programme", "free again"],
    ("mentor_paused", "mentee"): ["Grace can no longer take on new mentees", "another mentor"],
    ("mentor_paused", "mentor"): ["paused", "withdrawn the pending proposal with Ada"],
    ("capacity_lowered", "mentee"): ["Grace can no longer take on new mentees", "another mentor"],
    ("capacity_lowered", "mentor"): ["lowered", "withdrawn the pending proposal with Ada"],
    ("profile_changed", "mentee"): ["updated profile fits another mentor better", "Grace"],
    ("profile_changed", "mentor"): ["withdrawn the proposed match with Ada", "free again"],
}


@pytest.mark.parametrize(("reason", "role"), sorted(EXPECTED_EXPIRY_WORDING))
def test_each_expiry_reason_has_its_own_wording(reason: str, role: str) -> None:
    known = reason != "profile_deleted"
    m = rendered(MATCH_EXPIRED, role, expired(reason), counterpart_known=known)
    for phrase in EXPECTED_EXPIRY_WORDING[(reason, role)]:
        assert phrase in m.body
    assert MATCH_ID in m.body


def test_expiry_mails_differ_by_reason_and_side() -> None:
    bodies = {
        rendered(
            MATCH_EXPIRED, role, expired(reason), counterpart_known=reason != "profile_deleted"
        ).body
        for reason in EXPIRY_REASONS
        for role in ("mentee", "mentor")
    }
    # mentor_paused and capacity_lowered read the same to the mentee, on purpose.
    assert len(bodies) == 2 * len(EXPIRY_REASONS) - 1


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_someone_leaving_is_told_without_any_detail_about_them(role: str) -> None:
    # Even when a name is at hand, the mail about a deleted profile does not use it.
    m = rendered(MATCH_EXPIRED, role, expired("profile_deleted"))
    other = "Grace" if role == "mentee" else "Ada"
    assert other not in m.subject + m.body


def test_mails_that_name_the_other_person_need_their_name() -> None:
    with pytest.raises(ValueError, match="name"):
        rendered(MATCH_EXPIRED, "mentee", expired("timeout"), counterpart_known=False)


def test_an_unknown_expiry_reason_raises() -> None:
    with pytest.raises(ValueError, match="expiry reason"):
        rendered(MATCH_EXPIRED, "mentee", expired("meteor"))


# --- errors ----------------------------------------------------------------------------------


def test_unknown_template_raises() -> None:
    with pytest.raises(ValueError, match="unknown mail template"):
        rendered("weekly_digest", "mentee", context(), with_email=True)


def test_unknown_recipient_role_raises() -> None:
    with pytest.raises(ValueError, match="recipient role"):
        rendered(MATCH_PROPOSED, "matcher", context())


@pytest.mark.parametrize(
    ("template", "ctx", "missing"),
    [
        *((MATCH_PROPOSED, context(), key) for key in ("match_id", "score", "explanation")),
        (MATCH_PROPOSED, context(), "covered_skills"),
        (MATCH_ACCEPTED, {"match_id": MATCH_ID}, "match_id"),
        (MATCH_DECLINED, declined("mentor"), "declined_by"),
        (MATCH_DECLINED, declined("mentor"), "match_id"),
        (MATCH_EXPIRED, expired("timeout"), "reason"),
        (MATCH_EXPIRED, expired("timeout"), "match_id"),
    ],
)
def test_missing_context_raises_key_error(template: str, ctx: dict[str, Any], missing: str) -> None:
    broken = dict(ctx)
    del broken[missing]
    with pytest.raises(KeyError):
        rendered(template, "mentee", broken, with_email=True)


@pytest.mark.parametrize(("template", "role", "ctx"), BEFORE_ACCEPTANCE)
def test_every_mail_greets_the_recipient_and_ends_with_a_newline(
    template: str, role: str, ctx: dict[str, Any]
) -> None:
    known = not (template == MATCH_EXPIRED and ctx["reason"] == "profile_deleted")
    m = rendered(template, role, ctx, counterpart_known=known)
    assert m.body.startswith("Hello Ada," if role == "mentee" else "Hello Grace,")
    assert m.body.endswith("Mentorship Matching\n")
    assert m.subject
    assert "\n" not in m.subject


# --- mentorships -----------------------------------------------------------------------------

MENTORSHIP_ID = "5f0c7a52-1111-4c2e-9d7e-3c0b4d7e9a01"


def ended(ending: str, cause: str, ended_by: str | None) -> dict[str, Any]:
    return {
        "mentorship_id": MENTORSHIP_ID,
        "ending": ending,
        "cause": cause,
        "ended_by": ended_by,
        "feedback_due_by": "2025-04-01T09:00:00+00:00",
    }


MENTORSHIP_MAILS: list[tuple[str, dict[str, Any]]] = [
    (
        MENTORSHIP_STARTED,
        {
            "mentorship_id": MENTORSHIP_ID,
            "cadence_weeks": 2,
            "next_check_in_due": "2025-03-16T09:00:00+00:00",
        },
    ),
    (
        CHECK_IN_REMINDER,
        {
            "mentorship_id": MENTORSHIP_ID,
            "check_in_number": 3,
            "due_at": "2025-03-16T09:00:00+00:00",
        },
    ),
    (
        CHECK_IN_MISSED,
        {
            "mentorship_id": MENTORSHIP_ID,
            "check_in_number": 1,
            "due_at": "2025-03-16T09:00:00+00:00",
            "lapses_at": "2025-03-30T09:00:00+00:00",
        },
    ),
    (SURVEY_INVITATION, {"mentorship_id": MENTORSHIP_ID, "round": "first_check_in"}),
    (MENTORSHIP_ENDED, ended("completed", "goals_achieved", "mentee")),
    (MENTORSHIP_ENDED, ended("completed", "both_agreed", "mentor")),
    (MENTORSHIP_ENDED, ended("ended_early", "requested", "mentor")),
    (MENTORSHIP_ENDED, ended("lapsed", "no_check_in", None)),
]


@pytest.mark.parametrize(("template", "ctx"), MENTORSHIP_MAILS)
@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_mentorship_mails_name_the_other_person_and_the_mentorship(
    template: str, ctx: dict[str, Any], role: str
) -> None:
    mail = rendered(template, role, ctx)
    other = "Grace" if role == "mentee" else "Ada"
    assert other in mail.subject
    assert f"Mentorship reference: {MENTORSHIP_ID}" in mail.body
    assert "Match reference" not in mail.body
    # Never an address: a mentorship's mails go to people who already have each other's.
    assert "@" not in mail.body


def test_the_reminder_says_which_check_in_and_when_in_utc() -> None:
    _, ctx = MENTORSHIP_MAILS[1]
    mail = rendered(CHECK_IN_REMINDER, "mentee", ctx)
    assert mail.subject == "Check-in 3 with Grace is due by 2025-03-16 at 09:00 UTC"


def test_the_nudge_says_when_the_mentorship_lapses() -> None:
    _, ctx = MENTORSHIP_MAILS[2]
    assert "2025-03-30 at 09:00 UTC" in rendered(CHECK_IN_MISSED, "mentor", ctx).body


def test_the_started_mail_asks_the_mentee_for_goals_and_the_mentor_to_confirm() -> None:
    _, ctx = MENTORSHIP_MAILS[0]
    assert "proposing up to five goals" in rendered(MENTORSHIP_STARTED, "mentee", ctx).body
    assert "confirm" in rendered(MENTORSHIP_STARTED, "mentor", ctx).body
    assert "every 2 weeks" in rendered(MENTORSHIP_STARTED, "mentor", ctx).body


def test_the_end_invites_to_the_closing_survey_and_the_mentee_to_reassess() -> None:
    ctx = ended("ended_early", "requested", "mentor")
    to_mentee = rendered(MENTORSHIP_ENDED, "mentee", ctx).body
    to_mentor = rendered(MENTORSHIP_ENDED, "mentor", ctx).body
    assert "Grace has ended your mentorship." in to_mentee
    assert "You ended your mentorship with Ada." in to_mentor
    assert "closing survey by 2025-04-01 at 09:00 UTC" in to_mentee
    assert "re-assess" in to_mentee
    assert "re-assess" not in to_mentor
    assert "slot is free again" in to_mentor


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_a_mentorship_ended_by_a_deletion_names_nobody(role: str) -> None:
    mail = rendered(
        MENTORSHIP_ENDED,
        role,
        ended("ended_early", "profile_deleted", "mentor" if role == "mentee" else "mentee"),
        counterpart_known=False,
    )
    assert mail.subject == "Your mentorship has ended"
    assert "Grace" not in mail.body.replace("Hello Grace", "")
    assert "Ada" not in mail.body.replace("Hello Ada", "")
    assert "survey" not in mail.body


def test_an_unknown_ending_raises() -> None:
    with pytest.raises(ValueError, match="unknown ending"):
        rendered(MENTORSHIP_ENDED, "mentee", ended("paused", "requested", "mentee"))
