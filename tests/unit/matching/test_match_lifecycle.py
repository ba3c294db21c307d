"""A match's lifecycle as pure values: each change returns the new match and the event to
publish, or refuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from matching_service.match import OPEN_STATUSES, Match, MatchRefused, MatchStatus
from matching_service.matcher.ranking import Proposal
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MatchConcluded,
    MatchDeclined,
    MatchExpired,
    MatchOrigin,
    MatchProposed,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TTL = timedelta(days=7)
MENTEE = uuid.uuid4()
PROPOSAL = Proposal(
    mentor_id=uuid.uuid4(),
    score=0.8125,
    breakdown={"similarity": 0.9, "coverage": 1.0},
    covered_skills=["pricing_monetisation"],
    uncovered_skills=["stakeholder_communication"],
    explanation="Covers your gap in pricing.",
)


def proposed(origin: MatchOrigin = "online") -> Match:
    match, _ = Match.propose(MENTEE, PROPOSAL, T0, TTL, origin=origin)
    return match


def test_a_proposal_carries_the_score_and_expires_after_the_ttl() -> None:
    round_id = uuid.uuid4()
    match, event = Match.propose(MENTEE, PROPOSAL, T0, TTL, origin="round", round_id=round_id)

    assert match.status is MatchStatus.PROPOSED
    assert match.is_open
    assert (match.mentee_id, match.mentor_id) == (MENTEE, PROPOSAL.mentor_id)
    assert (match.proposed_at, match.expires_at) == (T0, T0 + TTL)
    assert match.accepted_by() == []
    assert isinstance(event, MatchProposed)
    assert event.match_id == match.id
    assert (event.score, event.score_breakdown) == (PROPOSAL.score, PROPOSAL.breakdown)
    assert (event.explanation, event.covered_skills) == (
        PROPOSAL.explanation,
        PROPOSAL.covered_skills,
    )
    assert (event.origin, event.round_id, event.expires_at) == ("round", round_id, T0 + TTL)
    assert event.accepted_by == []


def test_a_mentee_s_own_request_counts_as_the_mentee_s_yes() -> None:
    match, event = Match.propose(MENTEE, PROPOSAL, T0, TTL, origin="request")

    assert match.mentee_accepted_at == T0
    assert match.accepted_by() == ["mentee"]
    assert event.accepted_by == ["mentee"]
    assert not match.is_unanswered
    assert match.awaits("mentor")
    assert not match.awaits("mentee")


def test_one_yes_waits_for_the_other_and_the_second_accepts_the_match() -> None:
    later = T0 + timedelta(hours=2)
    half, none_yet = proposed().accept("mentor", T0 + timedelta(hours=1))
    both, event = half.accept("mentee", later)

    assert none_yet is None
    assert (half.status, half.accepted_by()) == (MatchStatus.PROPOSED, ["mentor"])
    assert (both.status, both.accepted_at, both.accepted_by()) == (
        MatchStatus.ACCEPTED,
        later,
        ["mentee", "mentor"],
    )
    assert both.is_open
    assert event == MatchAccepted(
        match_id=both.id, mentee_id=MENTEE, mentor_id=PROPOSAL.mentor_id, accepted_at=later
    )


def test_saying_yes_again_changes_nothing() -> None:
    half, _ = proposed().accept("mentee", T0)
    both, _ = half.accept("mentor", T0)

    assert half.accept("mentee", T0 + timedelta(hours=1)) == (half, None)
    assert both.accept("mentor", T0 + timedelta(hours=1)) == (both, None)


def test_a_decline_ends_the_proposal_and_closes_the_pair() -> None:
    declined, event = proposed().decline("mentor", "fully booked", T0)

    assert (declined.status, declined.ended_at) == (MatchStatus.DECLINED, T0)
    assert (declined.end_reason, declined.declined_by, declined.decline_reason) == (
        "declined_by_mentor",
        "mentor",
        "fully booked",
    )
    assert not declined.is_open
    assert declined.closes_pair
    assert event == MatchDeclined(
        match_id=declined.id,
        mentee_id=MENTEE,
        mentor_id=PROPOSAL.mentor_id,
        declined_by="mentor",
        reason="fully booked",
    )
    assert declined.decline("mentee", None, T0) == (declined, None)


def test_lapsing_closes_the_pair_but_other_expiries_do_not() -> None:
    timed_out, event = proposed().expire("timeout", T0)
    changed, _ = proposed().expire("profile_changed", T0)

    assert (timed_out.status, timed_out.end_reason, timed_out.ended_at) == (
        MatchStatus.EXPIRED,
        "timeout",
        T0,
    )
    assert event == MatchExpired(
        match_id=timed_out.id, mentee_id=MENTEE, mentor_id=PROPOSAL.mentor_id, reason="timeout"
    )
    assert timed_out.closes_pair
    assert not changed.closes_pair
    assert not changed.is_open


def test_an_accepted_match_can_end_but_not_be_declined_or_accepted_once_ended() -> None:
    accepted, _ = proposed(origin="request").accept("mentor", T0)
    with pytest.raises(MatchRefused) as not_declinable:
        accepted.decline("mentee", None, T0)
    ended, _ = accepted.expire("profile_deleted", T0)
    with pytest.raises(MatchRefused) as not_acceptable:
        ended.accept("mentee", T0)
    with pytest.raises(MatchRefused) as not_again:
        ended.expire("timeout", T0)

    assert not_declinable.value.code == "match_closed"
    assert "was accepted" in not_declinable.value.message
    assert not_acceptable.value.code == "match_closed"
    assert "was expired" in not_acceptable.value.message
    assert not_again.value.code == "match_closed"


def test_only_an_unanswered_proposal_past_its_time_is_due() -> None:
    match = proposed()
    accepted, _ = proposed(origin="request").accept("mentor", T0)

    assert not match.is_due(T0 + TTL - timedelta(seconds=1))
    assert match.is_due(T0 + TTL)
    assert not accepted.is_due(T0 + 2 * TTL)
    assert match.is_unanswered
    assert match.awaits("mentee")
    assert match.awaits("mentor")


def test_the_open_statuses_are_those_holding_a_slot() -> None:
    assert set(OPEN_STATUSES) == {MatchStatus.PROPOSED, MatchStatus.ACCEPTED}
    assert [str(status) for status in MatchStatus] == [
        "proposed",
        "accepted",
        "declined",
        "expired",
        "concluded",
    ]


# --- after the match: the mentorship ends ------------------------------------------------------

MENTORSHIP = uuid.uuid4()


def accepted() -> Match:
    match, _ = proposed(origin="request").accept("mentor", T0)
    return match


def test_an_accepted_match_concludes_when_its_mentorship_ends_and_its_slot_is_free() -> None:
    ended_at = T0 + timedelta(days=90)

    concluded, event = accepted().conclude(MENTORSHIP, "ended_early", ended_at)

    assert concluded.status is MatchStatus.CONCLUDED
    assert not concluded.is_open
    assert (concluded.ended_at, concluded.end_reason) == (ended_at, "ended_early")
    assert concluded.closes_pair  # the two had their mentorship: not proposed again
    assert isinstance(event, MatchConcluded)
    assert (event.match_id, event.mentorship_id, event.ending, event.concluded_at) == (
        concluded.id,
        MENTORSHIP,
        "ended_early",
        ended_at,
    )
    assert (event.mentee_id, event.mentor_id) == (concluded.mentee_id, concluded.mentor_id)


def test_concluding_again_changes_nothing() -> None:
    concluded, _ = accepted().conclude(MENTORSHIP, "completed", T0)

    again, event = concluded.conclude(MENTORSHIP, "lapsed", T0 + TTL)

    assert again is concluded
    assert event is None


@pytest.mark.parametrize("ended", ["proposal", "declined", "expired"])
def test_only_an_accepted_match_has_a_mentorship_to_conclude(ended: str) -> None:
    match = {
        "proposal": proposed(),
        "declined": proposed().decline("mentee", None, T0)[0],
        "expired": accepted().expire("profile_deleted", T0)[0],
    }[ended]

    with pytest.raises(MatchRefused) as refused:
        match.conclude(MENTORSHIP, "completed", T0)
    assert refused.value.code == "match_not_accepted"


def test_a_proposal_names_resources_for_each_gap_its_mentor_does_not_cover() -> None:
    _, event = Match.propose(MENTEE, PROPOSAL, T0, TTL)

    [gap] = event.learning_resources
    assert gap.skill == "stakeholder_communication"
    assert [r.kind for r in gap.resources] == ["practice", "course", "book"]
    assert event.resources_version == 1
