"""The sparse graph a large cohort round is solved on."""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
from matching_service.matcher.assignment import assign_optimal, candidate_graph
from matching_service.matcher.pool import Mentee, MenteeBlock, Mentor, MentorPool, skill_vector

PRICING = "pricing_monetisation"


def a_mentee(languages: tuple[str, ...] = ("en",)) -> Mentee:
    return Mentee(
        id=uuid.uuid4(),
        languages=frozenset(languages),
        current=skill_vector({PRICING: 1}),
        target=skill_vector({PRICING: 4}),
    )


def a_mentor(level: int, slots: int, languages: tuple[str, ...] = ("en",)) -> Mentor:
    return Mentor(
        id=uuid.uuid4(),
        languages=frozenset(languages),
        strengths=skill_vector({PRICING: level}),
        free_slots=slots,
    )


def test_a_mentor_in_nobodys_top_list_still_gets_edges_and_their_slots_are_used() -> None:
    star, plain = a_mentor(5, slots=1), a_mentor(3, slots=3)
    pool = MentorPool([star, plain])
    mentees = [a_mentee() for _ in range(4)]
    excluded: list[set[uuid.UUID]] = [set() for _ in mentees]

    only_mentee_side = candidate_graph(mentees, pool, excluded, per_mentee=1, per_mentor=0)
    both_sides = candidate_graph(mentees, pool, excluded, per_mentee=1, per_mentor=3)

    assert set(only_mentee_side.mentor.tolist()) == {0}  # everyone's first choice is the star
    assert int((both_sides.mentor == 1).sum()) == 3
    capacity = pool.free_slots.copy()
    assert assign_optimal(only_mentee_side, capacity).matched == 1
    assert assign_optimal(both_sides, capacity).matched == 4


def test_edges_are_allowed_pairs_once_each_with_the_pool_score() -> None:
    rng = np.random.default_rng(3)
    mentors = [
        a_mentor(int(rng.integers(2, 6)), int(rng.integers(0, 3)), ("en",) if i % 3 else ("de",))
        for i in range(12)
    ]
    mentees = [a_mentee(("en",) if i % 4 else ("de",)) for i in range(30)]
    pool = MentorPool(mentors)
    excluded: list[set[uuid.UUID]] = [
        {mentors[0].id} if i % 5 == 0 else set() for i in range(len(mentees))
    ]
    graph = candidate_graph(mentees, pool, excluded, per_mentee=2, per_mentor=4, block=7)

    scores, allowed = pool.evaluate(mentees, excluded)
    pairs = list(zip(graph.mentee.tolist(), graph.mentor.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))
    for (row, column), score in zip(pairs, graph.score.tolist(), strict=True):
        assert allowed[row, column]
        assert score == scores.total[row, column]
    # Each mentor keeps at most its best four mentees beyond those who chose it themselves.
    for column in range(len(mentors)):
        mine = graph.mentee[graph.mentor == column]
        chosen_by_mentee = {
            row
            for row in mine.tolist()
            if column in np.argsort(-np.where(allowed[row], scores.total[row], -1))[:2]
        }
        assert len(set(mine.tolist()) - chosen_by_mentee) <= 4


def test_a_mentee_has_an_edge_exactly_when_some_mentor_with_a_slot_suits_them() -> None:
    # Mentors who teach nothing of the gap but share everything else score high on the soft
    # factors, above the one mentor who teaches a little: the search goes on past them.
    someone = Mentee(
        id=uuid.uuid4(),
        languages=frozenset({"en"}),
        current=skill_vector({PRICING: 0}),
        target=skill_vector({PRICING: 5}),
        industries=frozenset({"saas"}),
    )
    nobody_suits = a_mentee(("fr",))
    idle = [
        Mentor(
            id=uuid.uuid4(),
            languages=frozenset({"en"}),
            strengths=skill_vector({PRICING: 0}),
            was_engineer=True,
            industries=frozenset({"saas"}),
        )
        for _ in range(70)
    ]
    teacher = dataclasses.replace(a_mentor(1, 1), utc_offset_hours=12.0)
    pool = MentorPool([*idle, teacher])
    mentees = [someone, nobody_suits]
    values = pool.score(mentees).total
    assert np.all(
        pool.ranking_values(MenteeBlock(mentees[:1], pool.config))[0, :-1] > values[0, -1]
    )
    graph = candidate_graph(mentees, pool, [set(), set()], per_mentee=3, per_mentor=0)
    assert graph.mentor[graph.mentee == 0].tolist() == [len(idle)]
    assert not np.any(graph.mentee == 1)
    scores, allowed = pool.evaluate(mentees)
    assert np.any(allowed[0] & (scores.total[0] > 0))
    assert not np.any(allowed[1] & (scores.total[1] > 0))
