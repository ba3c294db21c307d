"""The fast scoring kernel (one fused matrix product per block) and the block-at-once serving of
shortlists against the slow reference implementation (`tests.support.matching_reference`), on
random populations: the same scores to 1e-9, the same hard constraints, the same rankings and
the same shortlists."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from matching_service.matcher.pool import Mentee, MenteeBlock, Mentor, MentorPool
from matching_service.matcher.ranking import proposals_for, rank_mentors, shortlists
from matching_service.matcher.scoring import COMPONENTS, N_SKILLS, default_config

from tests.support import matching_reference as reference

CONFIG = default_config()
LANGUAGES = ("en", "de", "fr", "hi", "pt")
INDUSTRIES = ("saas", "fintech", "health", "gaming", "media")
OFFSETS = (-12.0, -8.0, -5.0, -3.5, 0.0, 1.0, 5.5, 5.75, 9.0, 12.75, 14.0)
ROLES = (None, "Associate PM", "Senior PM", "Technical PM", "Product manager", "Chef")
# The breakdown's components come from tables rounded to multiples of 2**-32: a component is
# within half a quantum per skill of its exact value.
COMPONENT_TOLERANCE = N_SKILLS * 2.0**-33


def random_population(
    seed: int, n_mentees: int, n_mentors: int
) -> tuple[list[Mentee], list[Mentor]]:
    rng = np.random.default_rng(seed)

    def some(items: tuple[str, ...], most: int, least: int = 0) -> frozenset[str]:
        count = int(rng.integers(least, most + 1))
        return frozenset(rng.choice(items, size=count, replace=False).tolist())

    mentors = [
        Mentor(
            id=uuid.UUID(int=int(rng.integers(1, 2**62))),
            languages=some(LANGUAGES, 2, least=1),
            strengths=rng.integers(0, 6, N_SKILLS).astype(np.float64),
            was_engineer=bool(rng.random() < 0.4),
            industries=some(INDUSTRIES, 3),
            utc_offset_hours=float(rng.choice(OFFSETS)),
            free_slots=int(rng.choice([0, 1, 1, 2, 3])),
        )
        for _ in range(n_mentors)
    ]
    mentees = []
    for i in range(n_mentees):
        current = rng.integers(0, 5, N_SKILLS).astype(np.float64)
        raise_by = rng.integers(1, 4, N_SKILLS) * (rng.random(N_SKILLS) < 0.3)
        target = np.minimum(current + raise_by, 5.0)
        limit = int(rng.integers(1, 12)) if rng.random() < 0.4 else None
        mentees.append(
            Mentee(
                id=mentors[i].id if i < 2 and mentors else uuid.uuid4(),  # some mentor themself
                languages=some(LANGUAGES, 2, least=1),
                current=current,
                target=target,
                target_role=ROLES[int(rng.integers(len(ROLES)))],
                industries=some(INDUSTRIES, 2),
                utc_offset_hours=float(rng.choice(OFFSETS)),
                max_timezone_difference_hours=limit,
            )
        )
    return mentees, mentors


@pytest.mark.parametrize("seed", range(6))
def test_kernel_scores_equal_the_reference_to_1e_9(seed: int) -> None:
    mentees, mentors = random_population(seed, 40, 60)
    pool = MentorPool(mentors)
    market = reference.rarity(mentors, CONFIG)
    assert np.allclose(pool.rarity, market, atol=0, rtol=1e-15)

    scores = pool.score(mentees)
    expected = np.array(
        [[reference.components(e, m, market, CONFIG)["total"] for m in mentors] for e in mentees]
    )

    assert np.max(np.abs(scores.total - expected)) <= 1e-9
    assert np.array_equal(scores.total > 0, expected > 0)
    assert np.all((scores.total >= 0) & (scores.total <= 1))


@pytest.mark.parametrize("seed", range(3))
def test_each_pairs_components_equal_the_reference(seed: int) -> None:
    mentees, mentors = random_population(100 + seed, 15, 30)
    pool = MentorPool(mentors)
    market = reference.rarity(mentors, CONFIG)
    parts = pool.score(mentees).components
    for row, mentee in enumerate(mentees):
        for column, mentor in enumerate(mentors):
            expected = reference.components(mentee, mentor, market, CONFIG)
            for name in COMPONENTS:
                actual = getattr(parts, name)[row, column]
                assert abs(actual - expected[name]) <= COMPONENT_TOLERANCE, name


@pytest.mark.parametrize("seed", range(4))
def test_hard_constraints_equal_the_reference(seed: int) -> None:
    mentees, mentors = random_population(200 + seed, 30, 50)
    rng = np.random.default_rng(seed)
    excluded = [
        {mentors[int(j)].id for j in rng.choice(len(mentors), size=3, replace=False)}
        for _ in mentees
    ]
    allowed = MentorPool(mentors).eligible(mentees, excluded)
    expected = np.array(
        [[reference.allowed(e, m, excluded[row]) for m in mentors] for row, e in enumerate(mentees)]
    )
    assert np.array_equal(allowed, expected)


@pytest.mark.parametrize("seed", range(4))
def test_rankings_hold_every_allowed_teaching_mentor_best_first_with_reference_scores(
    seed: int,
) -> None:
    mentees, mentors = random_population(300 + seed, 12, 80)
    pool = MentorPool(mentors)
    market = reference.rarity(mentors, CONFIG)
    scores = pool.score(mentees)
    allowed = pool.eligible(mentees)
    for row, mentee in enumerate(mentees):
        ranked = rank_mentors(mentee, pool)
        expected = {
            mentor.id: reference.components(mentee, mentor, market, CONFIG)["total"]
            for mentor in mentors
            if reference.allowed(mentee, mentor)
            and reference.components(mentee, mentor, market, CONFIG)["total"] > 0
        }
        assert {p.mentor_id for p in ranked} == set(expected)
        for proposal in ranked:
            assert abs(proposal.score - expected[proposal.mentor_id]) <= 0.5e-4 + 1e-9
        # Exactly the order of the kernel's totals, ties to the lower column.
        columns = [pool.position[p.mentor_id] for p in ranked]
        usable = np.flatnonzero(allowed[row] & (scores.total[row] > 0))
        order = sorted(usable.tolist(), key=lambda c: (-scores.total[row, c], c))
        assert columns == order


@pytest.mark.parametrize(
    ("seed", "per_slot", "block"), [(0, 1, 7), (1, 2, 5), (2, 3, 64), (3, 1, 1)]
)
def test_shortlists_serve_mentees_exactly_as_one_by_one(
    seed: int, per_slot: int, block: int
) -> None:
    mentees, mentors = random_population(400 + seed, 90, 70)
    rng = np.random.default_rng(seed)
    excluded = [{mentors[int(j)].id} for j in rng.integers(0, len(mentors), len(mentees))]
    pool = MentorPool(mentors)
    seen = rng.integers(0, 3, len(mentors))
    exposure = seen.astype(np.intp)

    result = shortlists(
        mentees,
        pool,
        4,
        excluded=excluded,
        exposure=exposure,
        exposure_per_slot=per_slot,
        block=block,
    )

    totals = pool.score(mentees).total
    usable = pool.eligible(mentees, excluded)
    served = seen.copy()
    expected = reference.serve_shortlists(totals, usable, pool.free_slots, 4, per_slot, served)
    for row, picked in enumerate(expected):
        assert result.mentors[row].tolist() == picked + [-1] * (4 - len(picked))
        assert result.scores[row, : len(picked)].tolist() == [totals[row, c] for c in picked]
    assert exposure.tolist() == served.tolist()


def test_shortlists_on_a_large_pool_serve_as_one_by_one() -> None:
    # Wide enough that rows are searched by group maxima and lists must grow as stars fill up.
    mentees, mentors = random_population(500, 300, 900)
    pool = MentorPool(mentors)
    result = shortlists(mentees, pool, 5, exposure_per_slot=1, block=128)
    totals = pool.score(mentees).total
    expected = reference.serve_shortlists(
        totals, pool.eligible(mentees), pool.free_slots, 5, per_slot=1
    )
    assert [[c for c in row if c >= 0] for row in result.mentors.tolist()] == expected


def test_batched_proposals_equal_one_at_a_time() -> None:
    mentees, mentors = random_population(600, 20, 40)
    pool = MentorPool(mentors)
    scores = pool.score(mentees)
    allowed = pool.eligible(mentees)
    rows, columns = np.nonzero(allowed & (scores.total > 0))
    batched = proposals_for(mentees, pool, rows, columns)
    for proposal, row, column in zip(batched, rows.tolist(), columns.tolist(), strict=True):
        single = [p for p in rank_mentors(mentees[row], pool) if p.mentor_id == mentors[column].id]
        assert [proposal] == single


@pytest.mark.parametrize("seed", range(3))
def test_one_mentees_sparse_sum_gives_the_blocks_product_bit_for_bit(seed: int) -> None:
    """An online match ranks one mentee by a sparse product over each mentor's set columns;
    a block goes through the dense product. Both must give the very same values."""
    mentees, mentors = random_population(400 + seed, 6, 70)
    pool = MentorPool(mentors)
    block_values = pool.ranking_values(MenteeBlock(mentees, pool.config))
    for row, mentee in enumerate(mentees):
        one = pool.ranking_values(MenteeBlock([mentee], pool.config))
        assert np.array_equal(one[0], block_values[row])
