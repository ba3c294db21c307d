"""How the matcher picks, orders, shortlists and explains mentors for mentees (skill-gap-v3):
hard constraints, soft factors, explanations and exposure-limited shortlists."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_service.matcher.explain import covered_gaps
from matching_service.matcher.pool import (
    Mentee,
    Mentor,
    MentorPool,
    skill_vector,
    utc_offset_hours,
)
from matching_service.matcher.ranking import Proposal, rank_mentors, shortlists
from matching_service.matcher.scoring import (
    ALGORITHM_VERSION,
    COMPONENTS,
    N_SKILLS,
    default_config,
    parse_config,
)
from mentorship_shared.contracts.skills import TAXONOMY

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"
METRICS = "product_metrics"
TECH = "technical_depth"
STRATEGY = "product_strategy"
DELIVERY = "product_delivery"
GTM = "go_to_market"
ENGINEER_SENTENCE = "Made the move from engineering to product too."
SAME_HOURS = "Same working hours as you."
CONFIG = default_config()


def mentee(
    levels: dict[str, tuple[int, int]],
    *,
    languages: tuple[str, ...] = ("en",),
    mentee_id: uuid.UUID | None = None,
    target_role: str | None = None,
    industries: tuple[str, ...] = (),
    offset: float = 0.0,
    max_hours: int | None = None,
) -> Mentee:
    return Mentee(
        id=mentee_id or uuid.uuid4(),
        languages=frozenset(languages),
        current=skill_vector({skill: current for skill, (current, _) in levels.items()}),
        target=skill_vector({skill: target for skill, (_, target) in levels.items()}),
        target_role=target_role,
        industries=frozenset(industries),
        utc_offset_hours=offset,
        max_timezone_difference_hours=max_hours,
    )


def mentor(
    levels: dict[str, int],
    *,
    languages: tuple[str, ...] = ("en",),
    was_engineer: bool = False,
    mentor_id: uuid.UUID | None = None,
    industries: tuple[str, ...] = (),
    offset: float = 0.0,
    free_slots: int = 1,
) -> Mentor:
    return Mentor(
        id=mentor_id or uuid.uuid4(),
        languages=frozenset(languages),
        strengths=skill_vector(levels),
        was_engineer=was_engineer,
        industries=frozenset(industries),
        utc_offset_hours=offset,
        free_slots=free_slots,
    )


def ranked(
    someone: Mentee, mentors: list[Mentor], excluded: Collection[uuid.UUID] = ()
) -> list[Proposal]:
    return rank_mentors(someone, MentorPool(mentors), excluded)


def short(skill_id: str) -> str:
    return TAXONOMY.by_id(skill_id).short_name


def ids(proposals: list[Proposal]) -> list[uuid.UUID]:
    return [p.mentor_id for p in proposals]


def clock_hours(a: float, b: float) -> float:
    forward = (a - b) % 24
    return min(forward, 24 - forward)


def eligible(someone: Mentee, candidate: Mentor, excluded: Collection[uuid.UUID] = ()) -> bool:
    """The hard constraints, written out independently of the pool's matrices."""
    limit = someone.max_timezone_difference_hours
    return (
        bool(someone.languages & candidate.languages)
        and candidate.free_slots > 0
        and candidate.id != someone.id
        and candidate.id not in excluded
        and (
            limit is None
            or clock_hours(someone.utc_offset_hours, candidate.utc_offset_hours) <= limit
        )
    )


# --- crafted cases: who is proposed --------------------------------------------------------


def test_skill_vector_places_levels_by_taxonomy_and_ignores_unknown_skills() -> None:
    vector = skill_vector({PRICING: 4, "skill_from_a_newer_taxonomy": 5})
    assert vector.shape == (N_SKILLS,)
    assert vector[TAXONOMY.ids.index(PRICING)] == 4
    assert vector.sum() == 4


def test_biggest_gap_in_pricing_gets_the_pricing_mentor_first() -> None:
    someone = mentee({PRICING: (1, 5), STAKEHOLDERS: (2, 3), METRICS: (3, 4), TECH: (5, 5)})
    communicator = mentor({STAKEHOLDERS: 5, PRICING: 2, METRICS: 4, TECH: 5})
    pricing_expert = mentor({PRICING: 5, STAKEHOLDERS: 3, METRICS: 3, TECH: 4})
    analyst = mentor({METRICS: 5, PRICING: 1, TECH: 5})

    proposals = ranked(someone, [communicator, pricing_expert, analyst])

    assert ids(proposals)[0] == pricing_expert.id
    assert set(ids(proposals)) == {communicator.id, pricing_expert.id, analyst.id}
    best = proposals[0]
    assert best.covered_skills == [PRICING, STAKEHOLDERS]
    assert best.uncovered_skills == [METRICS]
    assert best.explanation == (
        "Covers your gaps in pricing (you 1 -> 5, mentor 5) and "
        "stakeholder communication (you 2 -> 3, mentor 3). "
        "Not covered: product metrics. "
        "To start on it: 'Define the metrics of a feature you built'. " + SAME_HOURS
    )
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)


def test_mentor_without_a_shared_language_is_never_proposed_even_if_best() -> None:
    someone = mentee({PRICING: (0, 4)}, languages=("de", "en"))
    perfect_but_french = mentor({PRICING: 5}, languages=("fr",))
    weaker_german = mentor({PRICING: 2, TECH: 5}, languages=("de",))

    assert ids(ranked(someone, [perfect_but_french, weaker_german])) == [weaker_german.id]
    assert ranked(someone, [perfect_but_french]) == []


def test_mentor_outside_the_timezone_limit_is_never_proposed_even_if_best() -> None:
    someone = mentee({PRICING: (0, 4)}, offset=0.0, max_hours=3)
    perfect_but_far = mentor({PRICING: 5}, offset=5.0)
    weaker_at_the_limit = mentor({PRICING: 2}, offset=-3.0)

    assert ids(ranked(someone, [perfect_but_far, weaker_at_the_limit])) == [weaker_at_the_limit.id]


def test_timezone_limit_is_measured_round_the_clock() -> None:
    # UTC-11 and UTC+12 are 23 hours apart one way, 1 hour the other.
    someone = mentee({PRICING: (0, 4)}, offset=-11.0, max_hours=2)
    across_the_date_line = mentor({PRICING: 5}, offset=12.0)
    same_side_but_far = mentor({PRICING: 5}, offset=-5.0)

    assert ids(ranked(someone, [same_side_but_far, across_the_date_line])) == [
        across_the_date_line.id
    ]


def test_without_a_timezone_limit_any_distance_is_allowed() -> None:
    someone = mentee({PRICING: (0, 4)}, offset=-6.0, max_hours=None)
    opposite = mentor({PRICING: 5}, offset=6.0)
    assert ids(ranked(someone, [opposite])) == [opposite.id]


def test_mentor_without_a_free_slot_is_never_proposed_even_if_best() -> None:
    someone = mentee({PRICING: (0, 4)})
    full = mentor({PRICING: 5}, free_slots=0)
    available = mentor({PRICING: 2}, free_slots=1)

    assert ids(ranked(someone, [full, available])) == [available.id]


def test_mentee_is_never_matched_to_themself() -> None:
    person = uuid.uuid4()
    someone = mentee({PRICING: (0, 4)}, mentee_id=person)
    same_person_as_mentor = mentor({PRICING: 5}, mentor_id=person)
    other = mentor({PRICING: 3})

    assert ids(ranked(someone, [same_person_as_mentor, other])) == [other.id]
    assert ranked(someone, [same_person_as_mentor]) == []


def test_an_excluded_mentor_never_returns() -> None:
    someone = mentee({PRICING: (0, 4)})
    declined = mentor({PRICING: 5})
    other = mentor({PRICING: 3})
    pool = MentorPool([declined, other])

    assert ids(rank_mentors(someone, pool))[0] == declined.id
    assert ids(rank_mentors(someone, pool, excluded={declined.id})) == [other.id]
    assert rank_mentors(someone, pool, excluded=[declined.id, other.id]) == []
    # An excluded id that is not in the pool changes nothing.
    assert ids(rank_mentors(someone, pool, excluded={uuid.uuid4()})) == ids(
        rank_mentors(someone, pool)
    )


@pytest.mark.parametrize(
    "levels",
    [
        {PRICING: (3, 3), TECH: (5, 5)},
        {PRICING: (4, 2)},  # a target below the current level is no gap either
        {},
    ],
)
def test_mentee_without_gaps_gets_no_proposal(levels: dict[str, tuple[int, int]]) -> None:
    experts = [mentor(dict.fromkeys(TAXONOMY.ids, 5), was_engineer=True), mentor({PRICING: 5})]
    assert ranked(mentee(levels), experts) == []


def test_no_mentors_gives_no_proposal() -> None:
    assert ranked(mentee({PRICING: (0, 3)}), []) == []
    empty = shortlists([mentee({PRICING: (0, 3)})], MentorPool([]), 3)
    assert empty.mentors.tolist() == [[-1, -1, -1]]


def test_mentor_without_strength_on_any_gap_is_not_proposed_despite_soft_factors() -> None:
    someone = mentee({PRICING: (0, 3)}, industries=("fintech",))
    nice_but_useless = mentor({TECH: 5, METRICS: 5}, was_engineer=True, industries=("fintech",))
    assert ranked(someone, [nice_but_useless]) == []


def test_limit_cuts_the_ranking_after_the_best() -> None:
    someone = mentee({PRICING: (0, 5)})
    mentors = [mentor({PRICING: level}) for level in (2, 5, 3, 4)]
    full = ranked(someone, mentors)
    assert ids(full) == [mentors[1].id, mentors[3].id, mentors[2].id, mentors[0].id]
    assert ids(rank_mentors(someone, MentorPool(mentors), limit=2)) == ids(full)[:2]


def test_ties_follow_the_input_order_and_are_repeatable() -> None:
    someone = mentee({PRICING: (0, 3), METRICS: (1, 4)})
    first, second = mentor({PRICING: 4, METRICS: 4}), mentor({PRICING: 4, METRICS: 4})

    forward = ranked(someone, [first, second])
    assert ids(forward) == [first.id, second.id]
    assert forward[0].score == forward[1].score
    assert ids(ranked(someone, [first, second])) == ids(forward)
    assert ids(ranked(someone, [second, first])) == [second.id, first.id]


def test_mentor_reaching_the_target_is_not_ranked_below_an_otherwise_identical_weaker_one() -> None:
    someone = mentee({STAKEHOLDERS: (0, 5), PRICING: (3, 4)})
    below_target = mentor({STAKEHOLDERS: 4, PRICING: 3})
    expert = mentor({STAKEHOLDERS: 4, PRICING: 5})

    assert ids(ranked(someone, [below_target, expert]))[0] == expert.id


# --- soft factors decide between mentors equal on skills -----------------------------------


def test_former_engineer_wins_between_mentors_equal_on_skills() -> None:
    someone = mentee({PRICING: (0, 3)})
    career_pm = mentor({PRICING: 4}, was_engineer=False)
    former_engineer = mentor({PRICING: 4}, was_engineer=True)

    proposals = ranked(someone, [career_pm, former_engineer])

    assert ids(proposals) == [former_engineer.id, career_pm.id]
    assert proposals[0].score > proposals[1].score
    assert proposals[0].breakdown["was_engineer"] == 1.0
    assert proposals[1].breakdown["was_engineer"] == 0.0
    assert ENGINEER_SENTENCE in proposals[0].explanation
    assert ENGINEER_SENTENCE not in proposals[1].explanation


def test_shared_industry_wins_between_mentors_equal_on_skills() -> None:
    someone = mentee({PRICING: (0, 3)}, industries=("fintech", "health"))
    elsewhere = mentor({PRICING: 4}, industries=("retail",))
    fintech = mentor({PRICING: 4}, industries=("fintech", "retail"))
    both = mentor({PRICING: 4}, industries=("health", "fintech"))

    proposals = ranked(someone, [elsewhere, fintech, both])

    assert ids(proposals) == [both.id, fintech.id, elsewhere.id]
    assert [p.breakdown["industry"] for p in proposals] == [1.0, 0.5, 0.0]
    assert "Knows fintech and health like you." in proposals[0].explanation
    assert "Knows fintech like you." in proposals[1].explanation
    assert "Knows" not in proposals[2].explanation


def test_closer_timezone_wins_between_mentors_equal_on_skills() -> None:
    someone = mentee({PRICING: (0, 3)}, offset=1.0)
    far = mentor({PRICING: 4}, offset=-9.0)  # 10 hours: no overlap in a 9-hour day
    six_away = mentor({PRICING: 4}, offset=7.0)
    one_away = mentor({PRICING: 4}, offset=2.0)
    same = mentor({PRICING: 4}, offset=1.0)

    proposals = ranked(someone, [far, six_away, one_away, same])

    assert ids(proposals) == [same.id, one_away.id, six_away.id, far.id]
    assert proposals[0].explanation.endswith(SAME_HOURS)
    assert proposals[1].explanation.endswith("1 hour apart, so your working days overlap.")
    assert proposals[2].explanation.endswith("6 hours apart, so your working days overlap.")
    assert "apart" not in proposals[3].explanation
    assert SAME_HOURS not in proposals[3].explanation
    assert proposals[3].breakdown["timezone"] == 0.0


def test_half_hour_offsets_are_described_as_such() -> None:
    someone = mentee({PRICING: (0, 3)}, offset=utc_offset_hours("Asia/Kolkata"))
    london_winter = mentor({PRICING: 4}, offset=0.0)
    (proposal,) = ranked(someone, [london_winter])
    assert proposal.explanation.endswith("5.5 hours apart, so your working days overlap.")


# --- explanations and proposal fields ------------------------------------------------------


def test_explanation_with_one_covered_gap_is_singular() -> None:
    someone = mentee({PRICING: (1, 4), METRICS: (2, 3)})
    proposals = ranked(someone, [mentor({PRICING: 4})])
    assert proposals[0].explanation == (
        "Covers your gap in pricing (you 1 -> 4, mentor 4). Not covered: product metrics. "
        "To start on it: 'Define the metrics of a feature you built'. " + SAME_HOURS
    )


def test_explanation_names_three_covered_gaps_and_counts_the_rest() -> None:
    five = [PRICING, STAKEHOLDERS, METRICS, TECH, GTM]
    someone = mentee({skill: (0, 5 - i) for i, skill in enumerate(five)})
    proposal = ranked(someone, [mentor(dict.fromkeys(five, 5))])[0]
    assert proposal.covered_skills == five  # biggest gap first
    assert proposal.uncovered_skills == []
    assert proposal.explanation == (
        "Covers your gaps in pricing (you 0 -> 5, mentor 5), "
        "stakeholder communication (you 0 -> 4, mentor 5), "
        "product metrics (you 0 -> 3, mentor 5) and 2 more. " + SAME_HOURS
    )
    assert short(TECH) not in proposal.explanation
    assert "Not covered" not in proposal.explanation


def test_explanation_with_four_covered_gaps_names_three_and_one_more() -> None:
    four = [PRICING, STAKEHOLDERS, METRICS, TECH]
    someone = mentee({skill: (0, 5 - i) for i, skill in enumerate(four)})
    proposal = ranked(someone, [mentor(dict.fromkeys(four, 5))])[0]
    assert proposal.covered_skills == four
    assert proposal.explanation.startswith(
        "Covers your gaps in pricing (you 0 -> 5, mentor 5), "
        "stakeholder communication (you 0 -> 4, mentor 5), "
        "product metrics (you 0 -> 3, mentor 5) and 1 more. "
    )
    assert short(TECH) not in proposal.explanation


def test_explanation_names_three_uncovered_gaps_and_counts_the_rest() -> None:
    others = [STAKEHOLDERS, METRICS, TECH, GTM, STRATEGY]
    someone = mentee({PRICING: (0, 5)} | dict.fromkeys(others, (0, 4)))
    proposal = ranked(someone, [mentor({PRICING: 5})])[0]
    assert proposal.covered_skills == [PRICING]
    # Equal gaps, equal role weights, the mentor at 0 on all: taxonomy order.
    assert proposal.uncovered_skills == [STAKEHOLDERS, STRATEGY, METRICS, GTM, TECH]
    assert proposal.explanation == (
        "Covers your gap in pricing (you 0 -> 5, mentor 5). "
        "Not covered: stakeholder communication, product strategy, product metrics and 2 more. "
        "To start on them: 'Send a weekly update to people outside engineering', "
        "'Write a one-page product strategy', 'Define the metrics of a feature you built' "
        "and 2 more. " + SAME_HOURS
    )


def test_explanation_without_covered_gap_names_the_skill_the_mentor_gets_furthest_in() -> None:
    someone = mentee({PRICING: (0, 5), METRICS: (1, 5)})
    proposal = ranked(someone, [mentor({PRICING: 1, METRICS: 3})])[0]
    assert proposal.covered_skills == []
    assert proposal.uncovered_skills == [PRICING, METRICS]
    assert proposal.explanation == (
        "Can take you part of the way in product metrics (you 1 -> 5, mentor 3). "
        "Not covered: pricing. To start on it: 'Price one feature'. " + SAME_HOURS
    )


def test_covered_gaps_put_what_matters_for_the_target_role_first() -> None:
    levels = {STRATEGY: (1, 3), DELIVERY: (1, 3)}
    expert = mentor({STRATEGY: 5, DELIVERY: 5})
    # Equal gaps: a senior PM needs strategy more, an associate PM delivery.
    senior = ranked(mentee(levels, target_role="Senior PM"), [expert])[0]
    associate = ranked(mentee(levels, target_role="Associate PM"), [expert])[0]
    assert senior.covered_skills == [STRATEGY, DELIVERY]
    assert associate.covered_skills == [DELIVERY, STRATEGY]
    assert associate.explanation.startswith("Covers your gaps in product delivery")
    assert covered_gaps(mentee(levels), expert) == ([STRATEGY, DELIVERY], [])


def test_proposal_carries_every_component_and_both_versions() -> None:
    someone = mentee({PRICING: (0, 3)})
    proposal = ranked(someone, [mentor({PRICING: 4})])[0]
    assert set(proposal.breakdown) == set(COMPONENTS)
    assert all(0.0 <= value <= 1.0 for value in proposal.breakdown.values())
    assert proposal.algorithm_version == ALGORITHM_VERSION == "skill-gap-v3"
    assert proposal.weights_version == CONFIG.version == "weights-v1"
    recombined = sum(CONFIG.weights[name] * proposal.breakdown[name] for name in COMPONENTS)
    assert proposal.score == pytest.approx(recombined, abs=1e-3)


def test_weights_version_follows_the_pool_config() -> None:
    text = resources.files("matching_service").joinpath("data/weights-v1.json").read_text()
    data: dict[str, Any] = json.loads(text)
    data["version"] = "weights-test"
    config = parse_config(data)
    proposal = rank_mentors(mentee({PRICING: (0, 3)}), MentorPool([mentor({PRICING: 4})], config))
    assert proposal[0].weights_version == "weights-test"


# --- hypothesis: rankings ------------------------------------------------------------------

LANGUAGES = ("en", "de", "fr")
INDUSTRIES = ("fintech", "health", "retail")
ROLES = (None, "Associate PM", "Senior PM", "Technical PM", "Chef")
language_sets = st.frozensets(st.sampled_from(LANGUAGES), min_size=1)
industry_sets = st.frozensets(st.sampled_from(INDUSTRIES))
level = st.integers(min_value=0, max_value=5)
offsets = st.integers(-12, 14).map(float)
skill_subsets = st.lists(st.sampled_from(TAXONOMY.ids), unique=True, max_size=8)
skill_levels = st.dictionaries(st.sampled_from(TAXONOMY.ids), level, max_size=8)
timezone_limits = st.none() | st.integers(0, 12)


@st.composite
def mentees(draw: st.DrawFn, mentee_id: int = 0) -> Mentee:
    skills = draw(skill_subsets)
    levels = {}
    for skill in skills:
        current = draw(level)
        levels[skill] = (current, draw(st.integers(min_value=current, max_value=5)))
    return Mentee(
        id=uuid.UUID(int=mentee_id),
        languages=draw(language_sets),
        current=skill_vector({s: c for s, (c, _) in levels.items()}),
        target=skill_vector({s: t for s, (_, t) in levels.items()}),
        target_role=draw(st.sampled_from(ROLES)),
        industries=draw(industry_sets),
        utc_offset_hours=draw(offsets),
        max_timezone_difference_hours=draw(timezone_limits),
    )


@st.composite
def mentor_lists(draw: st.DrawFn, max_size: int = 8) -> list[Mentor]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    mentors = []
    for i in range(n):
        levels = draw(skill_levels)
        # Id 0 is the mentee's: now and then the mentee shows up among the mentors.
        number = draw(st.sampled_from([0, i + 1])) if i == 0 else i + 1
        mentors.append(
            Mentor(
                id=uuid.UUID(int=number),
                languages=draw(language_sets),
                strengths=skill_vector(levels),
                was_engineer=draw(st.booleans()),
                industries=draw(industry_sets),
                utc_offset_hours=draw(offsets),
                free_slots=draw(st.integers(0, 3)),
            )
        )
    return mentors


@settings(max_examples=100, deadline=None)
@given(someone=mentees(), mentors=mentor_lists(), data=st.data())
def test_proposals_are_eligible_sorted_bounded_and_complete(
    someone: Mentee, mentors: list[Mentor], data: st.DataObject
) -> None:
    excluded = set(data.draw(st.lists(st.sampled_from([m.id for m in mentors]))) if mentors else [])
    proposals = ranked(someone, mentors, excluded)
    by_id = {m.id: m for m in mentors}
    assert len(set(ids(proposals))) == len(proposals)
    scores = [p.score for p in proposals]
    assert scores == sorted(scores, reverse=True)
    for proposal in proposals:
        assert eligible(someone, by_id[proposal.mentor_id], excluded)
        assert 0.0 < proposal.score <= 1.0
        assert set(proposal.breakdown) == set(COMPONENTS)
        assert all(0.0 <= value <= 1.0 for value in proposal.breakdown.values())
        recombined = sum(CONFIG.weights[name] * proposal.breakdown[name] for name in COMPONENTS)
        assert proposal.score == pytest.approx(recombined, abs=1e-3)
    # Anyone eligible who can take the mentee some way on some gap is proposed.
    has_gap = someone.target > someone.current
    for candidate in mentors:
        teaches = np.any(has_gap & (candidate.strengths > someone.current))
        if eligible(someone, candidate, excluded) and teaches:
            assert candidate.id in ids(proposals)
        if not teaches:
            assert candidate.id not in ids(proposals)
    if not has_gap.any():
        assert proposals == []


@settings(max_examples=100, deadline=None)
@given(someone=mentees(), mentors=mentor_lists(), data=st.data())
def test_permuting_mentors_keeps_each_mentors_score_and_the_top_score(
    someone: Mentee, mentors: list[Mentor], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(mentors))

    def by_mentor(pool_mentors: list[Mentor]) -> dict[uuid.UUID, float]:
        if not pool_mentors:
            return {}
        totals = MentorPool(pool_mentors).score([someone]).total[0]
        return {m.id: float(totals[i]) for i, m in enumerate(pool_mentors)}

    # Every mentor's full-precision score, bit for bit (rarity and tables do not see order).
    assert by_mentor(list(shuffled)) == by_mentor(mentors)
    original = ranked(someone, mentors)
    permuted = ranked(someone, list(shuffled))
    assert {p.mentor_id: p.score for p in permuted} == {p.mentor_id: p.score for p in original}
    if original:
        # Ties may reorder ids, never the best score.
        assert permuted[0].score == original[0].score
        assert permuted[0].score == max(p.score for p in original)


@settings(max_examples=100, deadline=None)
@given(someone=mentees(), mentors=mentor_lists())
def test_explanations_name_covered_and_uncovered_gaps(
    someone: Mentee, mentors: list[Mentor]
) -> None:
    role_weights = CONFIG.role_for(someone.target_role).weights
    gap = {s: someone.target[i] - someone.current[i] for i, s in enumerate(TAXONOMY.ids)}
    share = {s: gap[s] * role_weights[i] for i, s in enumerate(TAXONOMY.ids)}
    gap_skills = {s for s, g in gap.items() if g > 0}
    by_id = {m.id: m for m in mentors}
    for proposal in ranked(someone, mentors):
        chosen = by_id[proposal.mentor_id]
        covered, uncovered = proposal.covered_skills, proposal.uncovered_skills
        reaches = {
            s for i, s in enumerate(TAXONOMY.ids) if chosen.strengths[i] >= someone.target[i]
        }
        assert set(covered) == gap_skills & reaches
        assert set(uncovered) == gap_skills - reaches
        assert len(covered) + len(uncovered) == len(gap_skills)
        for listed in (covered, uncovered):  # the gap that matters most for the role first
            assert [share[s] for s in listed] == sorted((share[s] for s in listed), reverse=True)

        text = proposal.explanation
        named = {s for s in gap_skills if short(s) in text}
        if covered:
            assert text.startswith(
                "Covers your gap in " if len(covered) == 1 else "Covers your gaps"
            )
            assert named == set(covered[:3] + uncovered[:3])
        else:
            # One skill the mentor gets furthest in, then up to three of the others.
            assert text.startswith("Can take you part of the way in ")
            assert len(named) == min(len(uncovered), 4)
        if len(covered) > 3:
            assert f"and {len(covered) - 3} more." in text
        if len(uncovered) > (3 if covered else 4):
            assert "more." in text.split("Not covered: ")[1]
        assert ("Not covered: " in text) == (len(uncovered) > (0 if covered else 1))
        for skill in set(TAXONOMY.ids) - gap_skills:
            assert short(skill) not in text
        assert (ENGINEER_SENTENCE in text) == chosen.was_engineer
        assert ("Knows " in text) == bool(someone.industries & chosen.industries)
        apart = clock_hours(someone.utc_offset_hours, chosen.utc_offset_hours)
        assert (SAME_HOURS in text) == (apart == 0)
        assert ("so your working days overlap" in text) == (0 < apart < CONFIG.working_hours)


def test_industry_share_does_not_depend_on_the_other_mentors() -> None:
    someone = mentee({PRICING: (0, 4)}, industries=("fintech", "health"))
    fintech = mentor({PRICING: 4}, industries=("fintech",))
    health = mentor({PRICING: 4}, industries=("health",))
    market = np.full(N_SKILLS, 0.5)
    alone = MentorPool([fintech], market_rarity=market).score([someone])
    together = MentorPool([fintech, health], market_rarity=market).score([someone])
    # The mentor knows one of the mentee's two industries, whoever else is in the pool.
    assert together.industry[0, 0] == 0.5
    assert alone.industry[0, 0] == 0.5
    assert alone.total[0, 0] == together.total[0, 0]


# --- shortlists ----------------------------------------------------------------------------


def star_and_others(star_slots: int = 1) -> tuple[list[Mentee], list[Mentor]]:
    everyone = [mentee({PRICING: (0, 5)}) for _ in range(10)]
    star = mentor({PRICING: 5}, free_slots=star_slots)
    second = mentor({PRICING: 4}, free_slots=4)
    third = mentor({PRICING: 3}, free_slots=4)
    return everyone, [third, star, second]  # the star is not first in the pool


def test_a_scarce_star_appears_on_exposure_per_slot_shortlists_then_the_next_best() -> None:
    everyone, mentors = star_and_others(star_slots=1)
    pool = MentorPool(mentors)
    third, star, second = 0, 1, 2
    for row in everyone:  # without limits, everyone ranks the star first
        assert ids(rank_mentors(row, pool))[0] == mentors[star].id

    result = shortlists(everyone, pool, 2, exposure_per_slot=3)

    assert result.mentors.tolist() == [[star, second]] * 3 + [[second, third]] * 7
    assert Counter(result.mentors.ravel().tolist())[star] == 3
    assert np.all(np.diff(result.scores, axis=1) <= 0)


def test_a_mentor_with_more_free_slots_appears_on_proportionally_more_shortlists() -> None:
    everyone = [mentee({PRICING: (0, 5)}) for _ in range(20)]
    one_slot = mentor({PRICING: 5}, free_slots=1)
    two_slots = mentor({PRICING: 5}, free_slots=2)
    backup = mentor({PRICING: 3}, free_slots=10)
    result = shortlists(everyone, MentorPool([one_slot, two_slots, backup]), 1)
    counts = Counter(result.mentors[:, 0].tolist())
    assert counts == {0: 3, 1: 6, 2: 11}
    assert result.mentors[:, 0].tolist() == [0] * 3 + [1] * 6 + [2] * 11


def test_an_exposure_array_carries_counts_across_calls() -> None:
    everyone, mentors = star_and_others(star_slots=1)
    pool = MentorPool(mentors)
    star, second = 1, 2
    exposure = np.zeros(len(pool), dtype=np.intp)

    first = shortlists(everyone[:2], pool, 1, exposure=exposure)
    assert first.mentors[:, 0].tolist() == [star, star]
    assert exposure.tolist() == [0, 2, 0]

    later = shortlists(everyone[2:5], pool, 1, exposure=exposure)
    assert later.mentors[:, 0].tolist() == [star, second, second]
    assert exposure.tolist() == [0, 3, 2]

    # Without the array, a call starts from nothing again.
    assert shortlists(everyone[:1], pool, 1).mentors[0, 0] == star


def test_shortlists_leave_out_excluded_and_ineligible_mentors() -> None:
    someone = mentee({PRICING: (0, 5)}, languages=("de",))
    declined = mentor({PRICING: 5}, languages=("de",))
    french = mentor({PRICING: 5}, languages=("fr",))
    full = mentor({PRICING: 5}, languages=("de",), free_slots=0)
    fine = mentor({PRICING: 3}, languages=("de",))
    pool = MentorPool([declined, french, full, fine])
    result = shortlists([someone], pool, 3, excluded=[{declined.id}])
    assert result.mentors.tolist() == [[3, -1, -1]]
    assert result.scores[0, 1:].tolist() == [0.0, 0.0]


def test_a_mentee_gets_the_next_mentor_with_room_however_many_are_used_up() -> None:
    everyone = [mentee({PRICING: (0, 5)}) for _ in range(6)]
    mentors = [mentor({PRICING: level}, free_slots=1) for level in (5, 4, 3, 2, 1)]
    result = shortlists(everyone, MentorPool(mentors), 1, exposure_per_slot=1)
    # Each mentor takes one list, best first; the sixth mentee finds nobody left.
    assert result.mentors[:, 0].tolist() == [0, 1, 2, 3, 4, -1]


@st.composite
def shortlist_cases(draw: st.DrawFn) -> tuple[list[Mentee], list[Mentor]]:
    n = draw(st.integers(1, 6))
    everyone = [draw(mentees(mentee_id=1000 + i)) for i in range(n)]
    return everyone, draw(mentor_lists(max_size=10))


@settings(max_examples=100, deadline=None)
@given(case=shortlist_cases(), k=st.integers(1, 4), per_slot=st.integers(1, 3))
def test_shortlists_are_best_first_at_most_k_eligible_and_within_exposure(
    case: tuple[list[Mentee], list[Mentor]], k: int, per_slot: int
) -> None:
    everyone, mentors = case
    pool = MentorPool(mentors)
    result = shortlists(everyone, pool, k, exposure_per_slot=per_slot)
    assert result.mentors.shape == (len(everyone), k)
    totals = pool.score(everyone).total if mentors else np.zeros((len(everyone), 0))
    for row, someone in enumerate(everyone):
        columns = result.mentors[row].tolist()
        listed = [c for c in columns if c >= 0]
        assert columns == listed + [-1] * (k - len(listed))  # padding only at the end
        assert len(set(listed)) == len(listed)
        scores = result.scores[row, : len(listed)].tolist()
        assert scores == sorted(scores, reverse=True)
        assert all(score > 0 for score in scores)
        for column, score in zip(listed, scores, strict=True):
            assert eligible(someone, mentors[column])
            assert score == totals[row, column]
    counts = Counter(result.mentors.ravel().tolist())
    for column, candidate in enumerate(mentors):
        assert counts[column] <= candidate.free_slots * per_slot


@settings(max_examples=100, deadline=None)
@given(case=shortlist_cases(), k=st.integers(1, 4))
def test_without_a_binding_exposure_limit_a_shortlist_is_the_top_of_the_ranking(
    case: tuple[list[Mentee], list[Mentor]], k: int
) -> None:
    everyone, mentors = case
    pool = MentorPool(mentors)
    result = shortlists(everyone, pool, k, exposure_per_slot=10**6)
    for row, someone in enumerate(everyone):
        expected = [p.score for p in rank_mentors(someone, pool, limit=k)]
        listed = result.scores[row, : len(expected)]
        # Proposals carry scores rounded to 4 places; a block scored at once may differ from a
        # lone mentee's score in the last bits, which can tip that rounding.
        assert np.allclose(listed, expected, rtol=0, atol=5.0001e-5)
        assert result.mentors[row, len(expected) :].tolist() == [-1] * (k - len(expected))


# --- utc offsets ---------------------------------------------------------------------------


def test_utc_offset_of_kolkata_is_five_and_a_half_hours() -> None:
    assert utc_offset_hours("Asia/Kolkata") == 5.5


def test_utc_offset_follows_daylight_saving_time() -> None:
    assert utc_offset_hours("Europe/Berlin", datetime(2026, 1, 15, 12, tzinfo=UTC)) == 1.0
    assert utc_offset_hours("Europe/Berlin", datetime(2026, 7, 15, 12, tzinfo=UTC)) == 2.0
    assert utc_offset_hours("America/New_York", datetime(2026, 1, 15, 12, tzinfo=UTC)) == -5.0


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Not a zone", "", "../etc/passwd"])
def test_unknown_zone_gives_zero(zone: str) -> None:
    assert utc_offset_hours(zone) == 0.0
