"""How the matcher picks, orders and explains mentors for a mentee (`rank_mentors`)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching_service.domain import (
    N_SKILLS,
    Mentee,
    Mentor,
    Proposal,
    rank_mentors,
    skill_vector,
)
from mentorship_shared.contracts.skills import TAXONOMY

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"
METRICS = "product_metrics"
TECH = "technical_depth"
ENGINEER_SENTENCE = "Made the move from engineering to product too."


def mentee(
    levels: dict[str, tuple[int, int]],
    *,
    languages: tuple[str, ...] = ("en",),
    mentee_id: uuid.UUID | None = None,
) -> Mentee:
    return Mentee(
        id=mentee_id or uuid.uuid4(),
        languages=frozenset(languages),
        current=skill_vector({skill: current for skill, (current, _) in levels.items()}),
        target=skill_vector({skill: target for skill, (_, target) in levels.items()}),
    )


def mentor(
    levels: dict[str, int],
    *,
    languages: tuple[str, ...] = ("en",),
    was_engineer: bool = False,
    mentor_id: uuid.UUID | None = None,
) -> Mentor:
    return Mentor(
        id=mentor_id or uuid.uuid4(),
        languages=frozenset(languages),
        strengths=skill_vector(levels),
        was_engineer=was_engineer,
    )


def short(skill_id: str) -> str:
    return TAXONOMY.by_id(skill_id).short_name


def ids(proposals: list[Proposal]) -> list[uuid.UUID]:
    return [p.mentor_id for p in proposals]


# --- crafted cases ---------------------------------------------------------------------------


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

    proposals = rank_mentors(someone, [communicator, pricing_expert, analyst])

    assert ids(proposals)[0] == pricing_expert.id
    best = proposals[0]
    assert best.covered_skills == [PRICING, STAKEHOLDERS]
    assert best.uncovered_skills == [METRICS]
    assert best.explanation.startswith(
        "Covers your gaps in pricing (you 1 -> 5, mentor 5) and "
        "stakeholder communication (you 2 -> 3, mentor 3)."
    )
    assert "Not covered: product metrics." in best.explanation
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)


def test_mentor_without_a_shared_language_is_never_ranked_even_if_best() -> None:
    someone = mentee({PRICING: (0, 4)}, languages=("de", "en"))
    perfect_but_french = mentor({PRICING: 5}, languages=("fr",))
    weaker_german = mentor({PRICING: 2, TECH: 5}, languages=("de",))

    proposals = rank_mentors(someone, [perfect_but_french, weaker_german])

    assert ids(proposals) == [weaker_german.id]


def test_mentee_is_never_matched_to_themself() -> None:
    person = uuid.uuid4()
    someone = mentee({PRICING: (0, 4)}, mentee_id=person)
    same_person_as_mentor = mentor({PRICING: 5}, mentor_id=person)
    other = mentor({PRICING: 3})

    assert ids(rank_mentors(someone, [same_person_as_mentor, other])) == [other.id]
    assert rank_mentors(someone, [same_person_as_mentor]) == []


@pytest.mark.parametrize(
    "levels",
    [
        {PRICING: (3, 3), TECH: (5, 5)},
        {PRICING: (4, 2)},  # a target below the current level is no gap either
        {},
    ],
)
def test_mentee_without_gaps_gets_no_proposal(levels: dict[str, tuple[int, int]]) -> None:
    experts = [mentor(dict.fromkeys(TAXONOMY.ids, 5)), mentor({PRICING: 5})]
    assert rank_mentors(mentee(levels), experts) == []


def test_no_mentors_gives_no_proposal() -> None:
    assert rank_mentors(mentee({PRICING: (0, 3)}), []) == []


def test_mentor_without_strength_on_any_gap_is_not_proposed() -> None:
    someone = mentee({PRICING: (0, 3)})
    assert rank_mentors(someone, [mentor({TECH: 5, METRICS: 5})]) == []


def test_ties_follow_the_input_order_and_are_repeatable() -> None:
    someone = mentee({PRICING: (0, 3), METRICS: (1, 4)})
    first, second = mentor({PRICING: 4, METRICS: 4}), mentor({PRICING: 4, METRICS: 4})

    forward = rank_mentors(someone, [first, second])
    assert ids(forward) == [first.id, second.id]
    assert forward[0].score == forward[1].score
    assert ids(rank_mentors(someone, [first, second])) == ids(forward)
    assert ids(rank_mentors(someone, [second, first])) == [second.id, first.id]


def test_identical_mentors_are_proposed_in_input_order() -> None:
    everything_to_three = dict.fromkeys(TAXONOMY.ids, (0, 3))
    someone = mentee(everything_to_three)
    levels = dict.fromkeys(TAXONOMY.ids, 1) | {TAXONOMY.ids[0]: 5}
    clones = [mentor(levels) for _ in range(6)]

    assert ids(rank_mentors(someone, clones)) == [c.id for c in clones]


def test_mentor_reaching_the_target_is_not_ranked_below_an_otherwise_identical_weaker_one() -> None:
    someone = mentee({STAKEHOLDERS: (0, 5), PRICING: (3, 4)})
    below_target = mentor({STAKEHOLDERS: 4, PRICING: 3})
    expert = mentor({STAKEHOLDERS: 4, PRICING: 5})

    assert ids(rank_mentors(someone, [below_target, expert]))[0] == expert.id


def test_explanation_with_one_covered_gap_is_singular() -> None:
    someone = mentee({PRICING: (1, 4), METRICS: (2, 3)})
    proposals = rank_mentors(someone, [mentor({PRICING: 4})])
    assert proposals[0].explanation == (
        "Covers your gap in pricing (you 1 -> 4, mentor 4). Not covered: product metrics."
    )


def test_explanation_counts_covered_gaps_beyond_three() -> None:
    five = [PRICING, STAKEHOLDERS, METRICS, TECH, "go_to_market"]
    someone = mentee({skill: (0, 5 - i) for i, skill in enumerate(five)})
    proposal = rank_mentors(someone, [mentor(dict.fromkeys(five, 5))])[0]
    assert proposal.covered_skills == five  # biggest gap first
    assert "and 2 more." in proposal.explanation
    assert "Not covered" not in proposal.explanation
    for skill in five[:3]:
        assert short(skill) in proposal.explanation


def test_explanation_without_covered_gap_names_the_strongest_relevant_skill() -> None:
    someone = mentee({PRICING: (0, 5), METRICS: (1, 5)})
    proposal = rank_mentors(someone, [mentor({PRICING: 1, METRICS: 3})])[0]
    assert proposal.covered_skills == []
    assert proposal.explanation == (
        "Can take you part of the way in product metrics (you 1 -> 5, mentor 3). "
        "Not covered: pricing."
    )


def test_engineer_sentence_only_for_mentors_who_were_engineers() -> None:
    someone = mentee({PRICING: (0, 3)})
    former_engineer = mentor({PRICING: 4}, was_engineer=True)
    career_pm = mentor({PRICING: 4}, was_engineer=False)
    by_id = {p.mentor_id: p for p in rank_mentors(someone, [former_engineer, career_pm])}
    assert by_id[former_engineer.id].explanation.endswith(ENGINEER_SENTENCE)
    assert ENGINEER_SENTENCE not in by_id[career_pm.id].explanation


# --- properties ------------------------------------------------------------------------------

LANGUAGES = ("en", "de", "fr")
language_sets = st.frozensets(st.sampled_from(LANGUAGES), min_size=1)
level = st.integers(min_value=0, max_value=5)


@st.composite
def mentees(draw: st.DrawFn) -> Mentee:
    skills = draw(st.lists(st.sampled_from(TAXONOMY.ids), unique=True, max_size=8))
    levels = {}
    for skill in skills:
        current = draw(level)
        levels[skill] = (current, draw(st.integers(min_value=current, max_value=5)))
    return Mentee(
        id=uuid.UUID(int=0),
        languages=draw(language_sets),
        current=skill_vector({s: c for s, (c, _) in levels.items()}),
        target=skill_vector({s: t for s, (_, t) in levels.items()}),
    )


@st.composite
def mentor_lists(draw: st.DrawFn) -> list[Mentor]:
    n = draw(st.integers(min_value=0, max_value=8))
    mentors = []
    for i in range(n):
        levels = draw(st.dictionaries(st.sampled_from(TAXONOMY.ids), level, max_size=8))
        # Id 0 is the mentee's: now and then the mentee shows up among the mentors.
        number = draw(st.sampled_from([0, i + 1])) if i == 0 else i + 1
        mentors.append(
            Mentor(
                id=uuid.UUID(int=number),
                languages=draw(language_sets),
                strengths=skill_vector(levels),
                was_engineer=draw(st.booleans()),
            )
        )
    return mentors


def eligible(someone: Mentee, candidate: Mentor) -> bool:
    return bool(someone.languages & candidate.languages) and candidate.id != someone.id


@settings(max_examples=40, deadline=None)
@given(someone=mentees(), mentors=mentor_lists())
def test_proposals_are_eligible_sorted_bounded_and_consistent(
    someone: Mentee, mentors: list[Mentor]
) -> None:
    proposals = rank_mentors(someone, mentors)
    by_id = {m.id: m for m in mentors}
    assert len(set(ids(proposals))) == len(proposals)
    scores = [p.score for p in proposals]
    assert scores == sorted(scores, reverse=True)
    for proposal in proposals:
        assert eligible(someone, by_id[proposal.mentor_id])
        assert 0.0 < proposal.score <= 1.0
        b = proposal.breakdown
        assert 0.0 <= b["similarity"] <= 1.0
        assert 0.0 <= b["coverage"] <= 1.0
        recombined = b["weight_similarity"] * b["similarity"] + b["weight_coverage"] * b["coverage"]
        assert proposal.score == pytest.approx(recombined, abs=1e-3)
    # Anyone eligible who reaches the target on some gap has something to offer.
    has_gap = someone.target > someone.current
    for candidate in mentors:
        if eligible(someone, candidate) and np.any(
            has_gap & (candidate.strengths >= someone.target)
        ):
            assert candidate.id in ids(proposals)
    if not has_gap.any():
        assert proposals == []


@settings(max_examples=40, deadline=None)
@given(someone=mentees(), mentors=mentor_lists(), data=st.data())
def test_permuting_mentors_keeps_scores_per_mentor_and_the_top_mentor(
    someone: Mentee, mentors: list[Mentor], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(mentors))
    original = {p.mentor_id: p.score for p in rank_mentors(someone, mentors)}
    permuted_proposals = rank_mentors(someone, shuffled)
    permuted = {p.mentor_id: p.score for p in permuted_proposals}
    assert permuted.keys() == original.keys()
    for mentor_id, score in original.items():
        assert permuted[mentor_id] == pytest.approx(score, abs=1e-4)
    if original:
        best = max(original.values())
        tied_for_first = {i for i, s in original.items() if s >= best - 1e-4}
        assert permuted_proposals[0].mentor_id in tied_for_first
        if len(tied_for_first) == 1:
            assert permuted_proposals[0].mentor_id == next(iter(tied_for_first))


@settings(max_examples=40, deadline=None)
@given(someone=mentees(), mentors=mentor_lists())
def test_a_mentors_score_does_not_depend_on_the_other_mentors(
    someone: Mentee, mentors: list[Mentor]
) -> None:
    together = {p.mentor_id: p for p in rank_mentors(someone, mentors)}
    for candidate in mentors:
        alone = rank_mentors(someone, [candidate])
        if candidate.id in together:
            assert len(alone) == 1
            assert alone[0].score == pytest.approx(together[candidate.id].score, abs=1e-4)
            assert alone[0].explanation == together[candidate.id].explanation
        else:
            assert alone == []


@settings(max_examples=40, deadline=None)
@given(someone=mentees(), mentors=mentor_lists())
def test_explanations_name_covered_and_uncovered_gaps(
    someone: Mentee, mentors: list[Mentor]
) -> None:
    gap = {s: someone.target[i] - someone.current[i] for i, s in enumerate(TAXONOMY.ids)}
    gap_skills = {s for s, g in gap.items() if g > 0}
    by_id = {m.id: m for m in mentors}
    for proposal in rank_mentors(someone, mentors):
        chosen = by_id[proposal.mentor_id]
        covered, uncovered = proposal.covered_skills, proposal.uncovered_skills
        reaches = {
            s for i, s in enumerate(TAXONOMY.ids) if chosen.strengths[i] >= someone.target[i]
        }
        assert set(covered) == gap_skills & reaches
        assert set(uncovered) == gap_skills - reaches
        assert len(covered) + len(uncovered) == len(gap_skills)
        for listed in (covered, uncovered):  # biggest gap first
            assert [gap[s] for s in listed] == sorted((gap[s] for s in listed), reverse=True)

        text = proposal.explanation
        named = {s for s in gap_skills if short(s) in text}
        if covered:
            assert text.startswith("Covers your gap")
            assert named == set(covered[:3] + uncovered[:3])
        else:
            # One skill the mentor gets furthest in, then up to three of the others.
            assert text.startswith("Can take you part of the way in ")
            assert len(named) == min(len(uncovered), 4)
        if len(covered) > 3:
            assert f"and {len(covered) - 3} more" in text
        if len(uncovered) > (3 if covered else 4):
            assert "more." in text
        if len(uncovered) > (0 if covered else 1):
            assert "Not covered: " in text
        for skill in set(TAXONOMY.ids) - gap_skills:
            assert short(skill) not in text
        assert (ENGINEER_SENTENCE in text) == chosen.was_engineer
