"""Learning plans as pure values: which resources a gap gets, the order of a mentee's gaps,
what the explanation names for the gaps a mentor does not cover, and when a plan is new."""

from __future__ import annotations

import uuid

import numpy as np
from matching_service.matcher.learning import (
    gap_resources,
    learning_gaps,
    plan_digest,
    plan_gaps,
    resources_for,
)
from matching_service.matcher.pool import Mentee, Mentor, MentorPool, skill_vector
from matching_service.matcher.ranking import rank_mentors
from matching_service.matcher.scoring import N_SKILLS, default_config
from mentorship_shared.contracts.learning_resources import CATALOGUE, RESOURCE_KINDS
from mentorship_shared.contracts.skills import TAXONOMY

PRICING = "pricing_monetisation"
STAKEHOLDERS = "stakeholder_communication"
METRICS = "product_metrics"
CAREER = "career_navigation"
EVEN = np.ones(N_SKILLS)


def mentee(levels: dict[str, tuple[int, int]], target_role: str | None = None) -> Mentee:
    return Mentee(
        id=uuid.uuid4(),
        languages=frozenset({"en"}),
        current=skill_vector({skill: current for skill, (current, _) in levels.items()}),
        target=skill_vector({skill: target for skill, (_, target) in levels.items()}),
        target_role=target_role,
    )


def test_every_skill_gets_a_practice_then_a_course_then_a_book_made_for_it() -> None:
    for skill in TAXONOMY.ids:
        chosen = resources_for(skill)

        assert [r.kind for r in chosen] == list(RESOURCE_KINDS)
        for resource in chosen:
            # The first of its kind the catalogue lists for the skill.
            first = next(r for r in CATALOGUE.for_skill(skill) if r.kind == resource.kind)
            assert resource == first
            assert skill in resource.skills


def test_gaps_come_biggest_first_and_covered_ones_carry_no_resources() -> None:
    someone = mentee({PRICING: (1, 5), STAKEHOLDERS: (2, 4), METRICS: (3, 4), CAREER: (4, 4)})

    gaps = plan_gaps(someone, EVEN, covered=[STAKEHOLDERS])

    assert [(g.skill, g.current, g.target) for g in gaps] == [
        (PRICING, 1, 5),
        (STAKEHOLDERS, 2, 4),
        (METRICS, 3, 4),
    ]
    assert [g.covered_by_mentor for g in gaps] == [False, True, False]
    assert [len(g.resources) for g in gaps] == [3, 0, 3]
    # The event of a plan carries the gaps nobody covers, with their resources.
    assert [(g.skill, [r.id for r in g.resources]) for g in learning_gaps(gaps)] == [
        (PRICING, [r.id for r in resources_for(PRICING)]),
        (METRICS, [r.id for r in resources_for(METRICS)]),
    ]


def test_the_gaps_that_matter_for_the_target_role_come_first() -> None:
    someone = mentee({PRICING: (2, 4), CAREER: (2, 4)}, target_role="Associate PM")
    role_weights = default_config().role_for(someone.target_role).weights

    assert [g.skill for g in plan_gaps(someone, role_weights)] == [CAREER, PRICING]


def test_a_plan_is_new_only_when_its_gaps_levels_resources_or_catalogue_change() -> None:
    before = learning_gaps(plan_gaps(mentee({PRICING: (1, 4), METRICS: (2, 4)}), EVEN))
    same = learning_gaps(plan_gaps(mentee({PRICING: (1, 4), METRICS: (2, 4)}), EVEN))
    moved = learning_gaps(plan_gaps(mentee({PRICING: (2, 4), METRICS: (2, 4)}), EVEN))
    fewer = learning_gaps(plan_gaps(mentee({PRICING: (1, 4)}), EVEN))

    assert plan_digest(before, 1) == plan_digest(same, 1)
    assert len({plan_digest(p, 1) for p in (before, moved, fewer)}) == 3
    assert plan_digest(before, 1) != plan_digest(before, 2)


def test_a_proposal_suggests_resources_for_the_uncovered_gaps_in_their_order() -> None:
    suggested = gap_resources([METRICS, PRICING])

    assert [g.skill for g in suggested] == [METRICS, PRICING]
    assert [r.id for r in suggested[1].resources] == [r.id for r in resources_for(PRICING)]
    assert gap_resources([]) == []


def test_the_explanation_names_where_to_start_on_each_uncovered_gap() -> None:
    someone = mentee({PRICING: (1, 5), STAKEHOLDERS: (1, 4), METRICS: (2, 4)})
    pricing_only = Mentor(
        id=uuid.uuid4(), languages=frozenset({"en"}), strengths=skill_vector({PRICING: 5})
    )

    [proposal] = rank_mentors(someone, MentorPool([pricing_only]))

    assert proposal.uncovered_skills == [STAKEHOLDERS, METRICS]
    starts = [f"'{resources_for(skill)[0].title}'" for skill in proposal.uncovered_skills]
    assert f"To start on them: {starts[0]} and {starts[1]}." in proposal.explanation
    assert proposal.explanation.index("Not covered") < proposal.explanation.index("To start")


def test_a_mentor_covering_every_gap_leaves_nothing_to_start_on() -> None:
    someone = mentee({PRICING: (1, 4)})
    expert = Mentor(
        id=uuid.uuid4(), languages=frozenset({"en"}), strengths=skill_vector({PRICING: 5})
    )

    [proposal] = rank_mentors(someone, MentorPool([expert]))

    assert "To start" not in proposal.explanation
    assert gap_resources(proposal.uncovered_skills) == []
