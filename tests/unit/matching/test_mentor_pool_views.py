"""A pool of every mentor, viewed with free slots and a market, ranks exactly as a pool built
from only the mentors of that market: the views the mentor directory serves (`available`), and
the ones a changed profile is reconsidered with (`holding` the current mentor's slot, then
`without` that mentor)."""

from __future__ import annotations

import dataclasses
import random
import uuid

import numpy as np
import pytest
from matching_service.matcher.pool import Mentee, Mentor, MentorPool, free_slots, skill_vector
from matching_service.matcher.ranking import rank_mentors
from matching_service.matcher.scoring import SKILL_IDS

LANGUAGES = ("en", "fr", "de")
Ranking = list[tuple[uuid.UUID, float, dict[str, float]]]


def population(seed: int) -> tuple[list[Mentor], list[Mentee]]:
    rng = random.Random(seed)
    mentors = [
        Mentor(
            id=uuid.UUID(int=rng.getrandbits(128)),
            languages=frozenset(rng.sample(LANGUAGES, rng.randint(1, 2))),
            strengths=skill_vector(
                {s: rng.randint(1, 5) for s in rng.sample(SKILL_IDS, rng.randint(2, 6))}
            ),
            was_engineer=rng.random() < 0.5,
            utc_offset_hours=rng.choice([-5.0, 0.0, 1.0, 5.5]),
            free_slots=rng.choice([0, 0, 1, 2]),
        )
        for _ in range(30)
    ]
    mentors.sort(key=lambda m: m.id)  # the directory's column order
    mentees = [
        Mentee(
            id=uuid.uuid4(),
            languages=frozenset(rng.sample(LANGUAGES, rng.randint(1, 2))),
            current=skill_vector({s: rng.randint(0, 2) for s in SKILL_IDS[:6]}),
            target=skill_vector({s: rng.randint(3, 5) for s in rng.sample(SKILL_IDS[:6], 3)}),
            utc_offset_hours=rng.choice([-5.0, 1.0]),
        )
        for _ in range(8)
    ]
    return mentors, mentees


def ranking(mentee: Mentee, pool: MentorPool) -> Ranking:
    return [(p.mentor_id, p.score, p.breakdown) for p in rank_mentors(mentee, pool)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_available_view_ranks_as_a_pool_of_its_market(seed: int) -> None:
    mentors, mentees = population(seed)
    everyone = MentorPool([dataclasses.replace(m, free_slots=9) for m in mentors])
    free = np.array([m.free_slots for m in mentors], dtype=np.intp)
    picked = next(m for m in mentors if m.free_slots == 0)
    compared = 0
    for mentee in mentees:
        languages = sorted(mentee.languages)
        view = everyone.available(free.copy(), languages, include=[picked.id])
        market = [
            m
            for m in mentors
            if (m.free_slots > 0 and m.languages & mentee.languages) or m.id == picked.id
        ]
        expected = ranking(mentee, MentorPool(market))
        assert ranking(mentee, view) == expected
        compared += bool(expected)
    assert compared, "nobody has a mentor: the comparison would prove nothing"


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_holding_a_slot_then_leaving_the_mentor_out_ranks_as_pools_built_so(seed: int) -> None:
    mentors, mentees = population(seed)
    everyone = MentorPool(mentors)
    free = np.array([m.free_slots for m in mentors], dtype=np.intp)
    for mentee in mentees:
        current = mentors[len(mentee.languages) * 7 % len(mentors)]
        view = everyone.available(free.copy(), sorted(mentee.languages), include=[current.id])
        held = [
            dataclasses.replace(m, free_slots=m.free_slots + 1) if m.id == current.id else m
            for m in mentors
            if (m.free_slots > 0 and m.languages & mentee.languages) or m.id == current.id
        ]

        assert ranking(mentee, view.holding(current.id)) == ranking(mentee, MentorPool(held))
        others = [m for m in held if m.id != current.id]
        assert ranking(mentee, view.holding(current.id).without(current.id)) == ranking(
            mentee, MentorPool(others)
        )


def test_views_leave_the_pool_they_come_from_unchanged() -> None:
    mentors, mentees = population(7)
    everyone = MentorPool(mentors)
    before = (everyone.free_slots.copy(), everyone.rarity.copy())
    view = everyone.available(np.zeros(len(mentors), dtype=np.intp), ["en"])
    view.holding(mentors[0].id).without(mentors[1].id).free_slots[:] = 5

    assert np.array_equal(everyone.free_slots, before[0])
    assert np.array_equal(everyone.rarity, before[1])
    assert rank_mentors(mentees[0], view) == []  # nobody has a slot in that view


def test_free_slots_are_none_while_paused_and_never_below_zero() -> None:
    free = free_slots(
        np.array([3, 3, 2, 1]), np.array([1, 3, 2, 0]), np.array([True, True, True, False])
    )

    assert free.tolist() == [2, 0, 0, 0]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_changed_pool_ranks_as_a_pool_built_afresh(seed: int) -> None:
    mentors, mentees = population(seed)
    rng = random.Random(seed)
    pool = MentorPool(mentors)
    # Slots taken since the mentors were read: the pool's free slots, not the Mentor's.
    pool.free_slots[:5] = 0
    mentors = [dataclasses.replace(m, free_slots=0) if i < 5 else m for i, m in enumerate(mentors)]
    others, _ = population(seed + 100)
    added = others[:4]
    replaced = [
        dataclasses.replace(other, id=mentors[i].id)
        for i, other in ((3, others[5]), (7, others[6]))
    ]
    removed = [mentors[1].id, mentors[20].id]
    if rng.random() < 0.5:  # a language no mentor spoke: the pool is built afresh
        added.append(dataclasses.replace(others[8], languages=frozenset({"xx"})))
    changed = pool.changed([*added, *replaced], removed)

    expected_mentors = {m.id: m for m in mentors if m.id not in removed}
    expected_mentors.update({m.id: m for m in [*added, *replaced]})
    fresh = MentorPool(sorted(expected_mentors.values(), key=lambda m: m.id))
    assert changed.ids == fresh.ids
    assert changed.free_slots.tolist() == fresh.free_slots.tolist()
    for mentee in mentees:
        assert ranking(mentee, changed) == ranking(mentee, fresh)
        free = np.array([1] * len(fresh), dtype=np.intp)
        assert ranking(mentee, changed.available(free, ["en"])) == ranking(
            mentee, fresh.available(free, ["en"])
        )
    assert [m.id for m in pool.mentors] == [m.id for m in mentors]  # the old pool unchanged


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_pool_with_profiles_changed_in_place_ranks_as_a_pool_built_afresh(seed: int) -> None:
    mentors, mentees = population(seed)
    pool = MentorPool(mentors)
    pool.free_slots[:3] = 0  # slots taken since the mentors were read
    # New skills, another of the pool's languages and offsets, a different industry set.
    changed = [
        dataclasses.replace(
            mentors[i],
            strengths=mentors[(i + 9) % len(mentors)].strengths,
            languages=mentors[(i + 1) % len(mentors)].languages,
            utc_offset_hours=mentors[(i + 2) % len(mentors)].utc_offset_hours,
            was_engineer=not mentors[i].was_engineer,
            free_slots=2,
        )
        for i in (0, 4, 17)
    ]
    after = pool.changed(changed, [])
    expected = [dataclasses.replace(m, free_slots=0) if i < 3 else m for i, m in enumerate(mentors)]
    for mentor in changed:
        expected[pool.position[mentor.id]] = mentor
    fresh = MentorPool(expected)
    assert after.free_slots.tolist() == fresh.free_slots.tolist()
    for mentee in mentees:
        assert ranking(mentee, after) == ranking(mentee, fresh)
    assert pool.mentors[0] is mentors[0]  # the old pool unchanged


def _profiles_changed(mentors: list[Mentor]) -> list[Mentor]:
    return [
        dataclasses.replace(
            mentors[i],
            strengths=mentors[(i + 9) % len(mentors)].strengths,
            languages=mentors[(i + 1) % len(mentors)].languages,
            was_engineer=not mentors[i].was_engineer,
        )
        for i in (2, 11)
    ]


@pytest.mark.parametrize("seed", [8, 9])
def test_the_sole_owner_of_a_pool_without_views_gets_it_changed_in_place(seed: int) -> None:
    mentors, mentees = population(seed)
    pool = MentorPool(mentors)
    changed = _profiles_changed(mentors)

    after = pool.changed(changed, [], sole_owner=True)

    assert after is pool  # no copy of every array
    expected = list(mentors)
    for mentor in changed:
        expected[pool.position[mentor.id]] = mentor
    fresh = MentorPool(expected)
    for mentee in mentees:
        assert ranking(mentee, after) == ranking(mentee, fresh)


@pytest.mark.parametrize("seed", [12, 13])
def test_caches_written_in_place_equal_those_of_a_pool_built_afresh(seed: int) -> None:
    """The derived caches (strong mentors, teaching levels, the sparse column index, the
    counts behind rarity) get the changed rows written, not rebuilt: they must still be
    what a pool built from the changed mentors computes, to the bit."""
    mentors, mentees = population(seed)
    pool = MentorPool(mentors)
    free = np.ones(len(mentors), dtype=np.intp)
    for mentee in mentees:  # every cache built before the change, views gone after
        ranking(mentee, pool)
        ranking(mentee, pool.available(free, sorted(mentee.languages)))
    expected = list(mentors)
    for round_ in range(3):
        changed = [
            dataclasses.replace(
                expected[i],
                strengths=mentors[(i + 5 * round_ + 9) % len(mentors)].strengths,
                was_engineer=not expected[i].was_engineer,
            )
            for i in (1, 7, 1 + round_)
        ]
        assert pool.changed(changed, [], sole_owner=True) is pool
        for mentor in changed:
            expected[pool.position[mentor.id]] = mentor
    fresh = MentorPool(expected)
    assert pool.rarity.tobytes() == fresh.rarity.tobytes()
    assert np.array_equal(pool._strong, fresh._strong)
    assert np.array_equal(pool._teaching_levels, fresh._teaching_levels)
    assert np.array_equal(pool._set_columns.toarray(), fresh._set_columns.toarray())
    for mentee in mentees:
        assert ranking(mentee, pool) == ranking(mentee, fresh)
        languages = sorted(mentee.languages)
        assert ranking(mentee, pool.available(free, languages)) == ranking(
            mentee, fresh.available(free, languages)
        )


@pytest.mark.parametrize("seed", [10, 11])
def test_a_view_alive_keeps_the_pool_it_was_made_from(seed: int) -> None:
    """A use case still holding a view (it awaits the database between ranking and
    explaining) must keep seeing the mentors as they were when it took the view."""
    mentors, mentees = population(seed)
    pool = MentorPool(mentors)
    free = np.ones(len(mentors), dtype=np.intp)
    view = pool.available(free, ["en"])
    before = [ranking(mentee, view) for mentee in mentees]
    features = view.features.copy()

    after = pool.changed(_profiles_changed(mentors), [], sole_owner=True)

    assert after is not pool
    assert np.array_equal(view.features, features)
    assert [ranking(mentee, view) for mentee in mentees] == before
    assert pool.mentors[2] is mentors[2]
