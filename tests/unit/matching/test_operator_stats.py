"""The pure parts of the matcher's operator stats: wait buckets, mentor load, time buckets,
acceptance rates, the mentees and skills panels."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from matching_service.operator_stats import (
    LONGEST_WAITS,
    MentorGroup,
    acceptance_rate,
    acceptance_series,
    mentee_panel,
    mentor_panel,
    skill_panel,
    time_grid,
    wait_buckets,
)
from mentorship_shared.contracts.skills import TAXONOMY


def test_waits_fall_into_their_bucket_and_a_bound_belongs_to_the_next() -> None:
    bars = wait_buckets([0.0, 0.99, 1.0, 5.9, 23.0, 24.0, 100.0, 200.0, 400.0, 10_000.0])
    assert [(bar.label, bar.count) for bar in bars] == [
        ("< 1 h", 2),
        ("1-6 h", 2),
        ("6-24 h", 1),
        ("1-3 d", 1),
        ("3-7 d", 1),
        ("1-2 wk", 1),
        ("> 2 wk", 2),
    ]
    assert sum(bar.count for bar in wait_buckets([])) == 0


def test_mentor_load_adds_up_slots_and_sorts_mentors_by_utilisation() -> None:
    panel = mentor_panel(
        [
            MentorGroup(capacity=2, load=0, accepting=True, mentors=3),
            MentorGroup(capacity=2, load=1, accepting=True, mentors=1),
            MentorGroup(capacity=2, load=2, accepting=True, mentors=2),
            MentorGroup(capacity=1, load=1, accepting=False, mentors=1),
            # capacity lowered below the slots taken: full, no free slot
            MentorGroup(capacity=1, load=2, accepting=True, mentors=1),
        ]
    )
    assert (panel.registered, panel.accepting) == (8, 7)
    assert panel.slots == 2 * 6 + 1 + 1
    assert panel.used == 0 + 1 + 4 + 1 + 2
    assert panel.free_slots == 2 * 3 + 1  # the paused mentor's slots are not free
    assert [(r.capacity, r.mentors, r.slots, r.used) for r in panel.by_capacity] == [
        (1, 2, 2, 3),
        (2, 6, 12, 5),
    ]
    assert {bar.label: bar.count for bar in panel.utilisation} == {
        "no mentee yet": 3,
        "some slots used": 1,
        "full": 3,
        "paused": 1,
    }


NOW = datetime(2026, 3, 2, 15, 42, tzinfo=UTC)


def test_hourly_buckets_while_the_first_proposal_is_at_most_two_days_old() -> None:
    unit, starts = time_grid(NOW, None)
    assert unit == "hour"
    assert len(starts) == 12
    assert starts[-1] == datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))

    unit, starts = time_grid(NOW, NOW - timedelta(hours=30))
    assert (unit, len(starts)) == ("hour", 31)
    assert starts[0] <= NOW - timedelta(hours=30)

    unit, starts = time_grid(NOW, NOW - timedelta(days=2))
    assert (unit, len(starts)) == ("hour", 48)


def test_daily_buckets_after_two_days_at_most_thirty_of_them() -> None:
    unit, starts = time_grid(NOW, NOW - timedelta(days=3))
    assert unit == "day"
    assert len(starts) == 7
    assert starts[-1] == datetime(2026, 3, 2, tzinfo=UTC)
    # the day of the first proposal is the first bucket, even when it began late that day
    assert time_grid(NOW, NOW - timedelta(days=20))[1][0] == datetime(2026, 2, 10, tzinfo=UTC)
    late = datetime(2026, 2, 20, 23, 50, tzinfo=UTC)
    early_now = datetime(2026, 3, 2, 0, 10, tzinfo=UTC)
    assert time_grid(early_now, late)[1][0] == datetime(2026, 2, 20, tzinfo=UTC)
    assert len(time_grid(NOW, NOW - timedelta(days=400))[1]) == 30


def test_acceptance_rate_counts_answers_not_withdrawals() -> None:
    assert acceptance_rate(0, 0, 0) is None
    assert acceptance_rate(3, 1, 0) == 0.75
    assert acceptance_rate(1, 1, 1) == pytest.approx(1 / 3, abs=1e-4)

    _, starts = time_grid(NOW, None)
    series = acceptance_series(
        starts,
        {starts[-1]: 5, starts[0]: 2},
        {
            (starts[-1], "accepted"): 2,
            (starts[-1], "declined"): 1,
            (starts[-1], "lapsed"): 1,
            (starts[-1], "withdrawn"): 7,
            (starts[0] - timedelta(hours=1), "accepted"): 9,  # before the first bucket
        },
    )
    assert len(series) == len(starts)
    last = series[-1]
    assert (last.proposed, last.accepted, last.declined, last.lapsed, last.withdrawn) == (
        5,
        2,
        1,
        1,
        7,
    )
    assert last.acceptance_rate == 0.5
    assert series[0].proposed == 2
    assert series[0].acceptance_rate is None
    assert sum(bucket.accepted for bucket in series) == 2


def test_the_mentees_panel_counts_waits_from_when_each_began_longest_first() -> None:
    waiting = [(uuid.UUID(int=n), NOW - timedelta(hours=n)) for n in range(1, 13)]
    panel = mentee_panel(20, waiting, NOW)

    assert (panel.registered, panel.waiting, panel.with_open_match) == (20, 12, 8)
    assert len(panel.longest_waits) == LONGEST_WAITS
    assert [w.waiting_hours for w in panel.longest_waits[:2]] == [12.0, 11.0]
    assert sum(bar.count for bar in panel.wait_buckets) == 12
    # A wait that began after the snapshot's now counts as no wait at all.
    future = mentee_panel(1, [(uuid.UUID(int=1), NOW + timedelta(minutes=5))], NOW)
    assert future.longest_waits[0].waiting_hours == 0


def test_the_skills_panel_lists_every_skill_most_needed_by_waiting_mentees_first() -> None:
    panel = skill_panel(
        4,
        demand=[
            ("pricing_monetisation", True, 5, 2),
            ("pricing_monetisation", False, 1, 1),
            ("product_metrics", False, 3, 1),
            ("a_retired_skill", True, 1, 1),
        ],
        supply=[("pricing_monetisation", 2, 1), ("customer_insight", 1, 0)],
    )
    rows = {row.skill: row for row in panel.skills}

    assert panel.skills[0].skill == "pricing_monetisation"
    pricing = rows["pricing_monetisation"]
    assert (pricing.demand_waiting, pricing.mentees_waiting, pricing.demand_all) == (5, 2, 6)
    assert (pricing.mentors_strong, pricing.free_slots_strong) == (2, 1)
    assert rows["product_metrics"].demand_waiting == 0
    assert rows["a_retired_skill"].name == "a_retired_skill"
    assert {skill.id for skill in TAXONOMY.skills} <= set(rows)
