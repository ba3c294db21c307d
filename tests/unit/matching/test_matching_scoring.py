"""The match score on its own (skill-gap-v3): the config, each component's bounds and direction,
quantised tables, timezones and ranking order."""

from __future__ import annotations

import copy
import json
import uuid
from importlib import resources
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matching_service.matcher.pool import Mentee, Mentor, MentorPool
from matching_service.matcher.scoring import (
    ALGORITHM_VERSION,
    COMPONENTS,
    N_SKILLS,
    SKILL_IDS,
    SKILL_INDEX,
    ComponentScores,
    ScoringConfig,
    combine,
    default_config,
    gap_weights,
    hours_apart,
    one_hot_levels,
    parse_config,
    rank,
    rarity,
    skill_components,
    skill_tables,
    timezone_overlap,
)

PRICING = "pricing_monetisation"
STRATEGY = "product_strategy"
DELIVERY = "product_delivery"
METRICS = "product_metrics"
STAKEHOLDERS = "stakeholder_communication"
TECH = "technical_depth"
CUSTOMER = "customer_insight"
GTM = "go_to_market"

CONFIG = default_config()
ONES = np.ones(N_SKILLS)
EN = frozenset({"en"})

levels = st.integers(min_value=0, max_value=5)
level_vectors = arrays(np.int64, N_SKILLS, elements=levels)
unit = st.floats(0.0, 1.0, allow_nan=False)
rarities = arrays(np.float64, N_SKILLS, elements=unit)


def raw_config() -> dict[str, Any]:
    text = resources.files("matching_service").joinpath("data/weights-v1.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def vec(levels_by_skill: dict[str, float]) -> np.ndarray:
    vector = np.zeros(N_SKILLS)
    for skill_id, level in levels_by_skill.items():
        vector[SKILL_INDEX[skill_id]] = level
    return vector


def components(
    current: np.ndarray,
    target: np.ndarray,
    mentor_levels: np.ndarray,
    market_rarity: np.ndarray,
    *,
    role_weights: np.ndarray = ONES,
    was_engineer: np.ndarray | None = None,
    industry: np.ndarray | None = None,
    timezone: np.ndarray | None = None,
    config: ScoringConfig = CONFIG,
) -> ComponentScores:
    """The scoring functions wired together for mentees (b, skills) and mentors (n, skills)."""
    current, target = np.atleast_2d(current), np.atleast_2d(target)
    b, n = current.shape[0], mentor_levels.shape[0]
    roles = np.broadcast_to(role_weights, current.shape)
    tables = skill_tables(
        skill_components(current, target, roles, market_rarity, config.strong_level)
    )
    encoded = one_hot_levels(mentor_levels.astype(np.int8))
    parts = np.stack([encoded @ table for table in tables]).transpose(0, 2, 1)
    soft = [np.zeros((b, n)) if x is None else x for x in (was_engineer, industry, timezone)]
    return combine(parts, soft[0], soft[1], soft[2], config)


def mentee(current: np.ndarray, target: np.ndarray, **kwargs: Any) -> Mentee:
    return Mentee(id=uuid.uuid4(), languages=EN, current=current, target=target, **kwargs)


def mentor(strengths: np.ndarray, **kwargs: Any) -> Mentor:
    return Mentor(id=uuid.uuid4(), languages=EN, strengths=strengths, **kwargs)


# --- config and role weights ---------------------------------------------------------------


def test_default_config_is_versioned_and_its_weights_sum_to_one() -> None:
    assert CONFIG.version == raw_config()["version"]
    assert ALGORITHM_VERSION == "skill-gap-v3"
    assert set(CONFIG.weights) == set(COMPONENTS)
    assert sum(CONFIG.weights.values()) == pytest.approx(1.0)
    assert CONFIG.weight_vector().tolist() == [CONFIG.weights[name] for name in COMPONENTS]


@pytest.mark.parametrize(
    ("target_role", "role_id"),
    [
        ("Associate PM", "associate_pm"),
        ("APM", "associate_pm"),
        ("Senior Product Manager", "senior_pm"),
        ("Head of Product", "senior_pm"),
        ("Data PM", "technical_pm"),
        ("Product manager, API platform", "technical_pm"),
        ("Product Manager", "product_manager"),
        ("Chef", "product_manager"),
        ("", "product_manager"),
        (None, "product_manager"),
        # A keyword inside another word is no match: 'api' in 'rapid', 'lead' in 'leadership',
        # 'entry' in 'sentry', 'head' in 'overhead'.
        ("Rapid prototyping", "product_manager"),
        ("Leadership coach", "product_manager"),
        ("Sentry owner", "product_manager"),
        ("Overhead reduction", "product_manager"),
    ],
)
def test_role_for_matches_keywords_on_whole_words(target_role: str | None, role_id: str) -> None:
    assert CONFIG.role_for(target_role).id == role_id


def test_a_role_naming_two_profiles_gets_the_first_in_config_order() -> None:
    # 'Senior' names senior_pm, 'technical' names technical_pm: the config lists
    # technical_pm first, so that one wins.
    order = [role_id for role_id in raw_config()["roles"] if role_id != CONFIG.default_role]
    assert order.index("technical_pm") < order.index("senior_pm")
    assert CONFIG.role_for("Senior technical PM").id == "technical_pm"
    assert CONFIG.role_for("Technical lead").id == "technical_pm"


def test_pm_inside_another_word_does_not_match_the_pm_keyword() -> None:
    # In the shipped config 'pm' belongs to the default role, so make another role the default
    # for this check.
    data = raw_config()
    data["default_role"] = "associate_pm"
    data["roles"]["associate_pm"]["keywords"] = ["associate"]
    config = parse_config(data)
    assert config.role_for("PM, payments").id == "product_manager"
    assert config.role_for("pm").id == "product_manager"
    assert config.role_for("Shipment planner").id == "associate_pm"
    assert config.role_for("npm maintainer").id == "associate_pm"
    assert config.role_for("PMO analyst").id == "associate_pm"


def test_senior_pm_target_weights_product_strategy_up() -> None:
    current = vec({STRATEGY: 1, DELIVERY: 1})
    target = vec({STRATEGY: 3, DELIVERY: 3})
    senior = CONFIG.role_for("Senior PM")
    assert senior.weights[SKILL_INDEX[STRATEGY]] > 1.0
    weights = gap_weights(current[None, :], target[None, :], senior.weights[None, :])[0]
    # Equal gaps of 2; strategy counts 1.5, delivery 1: shares 3/5 and 2/5.
    assert weights[SKILL_INDEX[STRATEGY]] == pytest.approx(0.6)
    assert weights[SKILL_INDEX[DELIVERY]] == pytest.approx(0.4)
    assert weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("target_role", [None, "", "Chef", "Product manager"])
def test_unknown_or_empty_role_gives_the_default_profile_with_all_weights_one(
    target_role: str | None,
) -> None:
    profile = CONFIG.role_for(target_role)
    assert profile.id == CONFIG.default_role
    assert profile.weights.tolist() == [1.0] * N_SKILLS
    current = vec({STRATEGY: 1, DELIVERY: 2})
    target = vec({STRATEGY: 4, DELIVERY: 3})
    weights = gap_weights(current[None, :], target[None, :], profile.weights[None, :])[0]
    assert weights[SKILL_INDEX[STRATEGY]] == pytest.approx(0.75)
    assert weights[SKILL_INDEX[DELIVERY]] == pytest.approx(0.25)


def test_role_weights_in_the_config_land_on_their_skills() -> None:
    data = raw_config()
    for role_id, role in data["roles"].items():
        profile = CONFIG.roles[role_id]
        expected = np.ones(N_SKILLS)
        for skill_id, weight in role["skills"].items():
            expected[SKILL_IDS.index(skill_id)] = weight
        assert profile.weights.tolist() == expected.tolist()


def test_gap_weights_of_a_mentee_without_gaps_are_zero() -> None:
    current = vec({PRICING: 4, TECH: 5})
    target = vec({PRICING: 2, TECH: 5})
    assert not gap_weights(current[None, :], target[None, :], ONES[None, :]).any()


def test_parse_config_rejects_weights_not_summing_to_one() -> None:
    data = raw_config()
    data["components"]["similarity"] += 0.1
    with pytest.raises(ValueError, match="sum to 1"):
        parse_config(data)


def test_parse_config_rejects_a_negative_weight() -> None:
    data = raw_config()
    data["components"]["similarity"] += 0.1
    data["components"]["timezone"] -= 0.1
    with pytest.raises(ValueError, match="non-negative"):
        parse_config(data)


def test_parse_config_rejects_an_unknown_skill() -> None:
    data = raw_config()
    data["roles"]["senior_pm"]["skills"]["juggling"] = 2.0
    with pytest.raises(ValueError, match="juggling"):
        parse_config(data)


def test_parse_config_rejects_a_missing_default_role() -> None:
    data = raw_config()
    data["default_role"] = "astronaut"
    with pytest.raises(ValueError, match="default_role"):
        parse_config(data)
    data = raw_config()
    del data["roles"][data["default_role"]]
    with pytest.raises(ValueError, match="default_role"):
        parse_config(data)


def test_parse_config_accepts_the_shipped_file_unchanged() -> None:
    config = parse_config(copy.deepcopy(raw_config()))
    assert config.version == CONFIG.version
    assert config.weights == CONFIG.weights
    assert config.strong_level == CONFIG.strong_level
    assert config.working_hours == CONFIG.working_hours


# --- components on crafted cases -----------------------------------------------------------


def test_components_follow_the_formula_on_a_crafted_case() -> None:
    # Gaps 4 (pricing) and 1 (stakeholders): weights 0.8 and 0.2. The mentor reaches half of
    # the pricing gap and all of the stakeholder gap.
    current = vec({PRICING: 1, STAKEHOLDERS: 2})
    target = vec({PRICING: 5, STAKEHOLDERS: 3})
    strengths = vec({PRICING: 3, STAKEHOLDERS: 3})[None, :]
    market = np.full(N_SKILLS, 0.5)
    scores = components(
        current,
        target,
        strengths,
        market,
        was_engineer=np.ones((1, 1)),
        industry=np.full((1, 1), 0.5),
        timezone=np.full((1, 1), 0.25),
    )
    assert scores.similarity[0, 0] == pytest.approx(0.8 * 0.5 + 0.2 * 1.0)
    assert scores.coverage[0, 0] == pytest.approx(0.2)
    # Equal rarity everywhere: rare reach equals similarity; no strong skill outside the gaps.
    assert scores.scarcity[0, 0] == pytest.approx(0.5 * 0.6 + 0.5 * 1.0)
    w = CONFIG.weights
    expected = (
        w["similarity"] * 0.6
        + w["coverage"] * 0.2
        + w["scarcity"] * 0.8
        + w["was_engineer"] * 1.0
        + w["industry"] * 0.5
        + w["timezone"] * 0.25
    )
    assert scores.total[0, 0] == pytest.approx(expected)
    assert scores.breakdown(0, 0) == {
        "similarity": 0.6,
        "coverage": 0.2,
        "scarcity": 0.8,
        "was_engineer": 1.0,
        "industry": 0.5,
        "timezone": 0.25,
    }


def test_mentor_at_every_target_with_all_soft_factors_scores_one() -> None:
    current = vec({PRICING: 1, STAKEHOLDERS: 2})
    target = vec({PRICING: 5, STAKEHOLDERS: 3})
    strengths = target[None, :]
    scores = components(
        current,
        target,
        strengths,
        np.full(N_SKILLS, 0.5),
        was_engineer=np.ones((1, 1)),
        industry=np.ones((1, 1)),
        timezone=np.ones((1, 1)),
    )
    assert scores.total[0, 0] == pytest.approx(1.0)


def test_strength_below_the_mentees_current_level_teaches_nothing() -> None:
    current = vec({PRICING: 3})
    target = vec({PRICING: 5})
    scores = components(current, target, vec({PRICING: 2})[None, :], np.full(N_SKILLS, 0.5))
    assert scores.similarity[0, 0] == 0.0
    assert scores.total[0, 0] == 0.0


def test_rarity_is_one_minus_the_share_of_strong_mentors() -> None:
    pool_levels = np.zeros((4, N_SKILLS), dtype=np.int8)
    pool_levels[:, SKILL_INDEX[PRICING]] = [4, 5, 3, 0]  # two of four at strong_level 4 or more
    pool_levels[:, SKILL_INDEX[TECH]] = 5
    result = rarity(pool_levels, strong_level=4)
    assert result[SKILL_INDEX[PRICING]] == pytest.approx(0.5)
    assert result[SKILL_INDEX[TECH]] == 0.0
    assert result[SKILL_INDEX[METRICS]] == 1.0
    assert rarity(np.zeros((0, N_SKILLS), dtype=np.int8), 4).tolist() == [1.0] * N_SKILLS


# --- bounds --------------------------------------------------------------------------------

# Every part and the total are clipped to [0, 1] after the quantised sums: no tolerance.
DUST = 0.0


@st.composite
def scoring_cases(draw: st.DrawFn) -> dict[str, Any]:
    b = draw(st.integers(1, 3))
    n = draw(st.integers(1, 6))
    return {
        "current": draw(arrays(np.float64, (b, N_SKILLS), elements=levels.map(float))),
        "target": draw(arrays(np.float64, (b, N_SKILLS), elements=levels.map(float))),
        "mentor_levels": draw(arrays(np.int64, (n, N_SKILLS), elements=levels)),
        "market_rarity": draw(rarities),
        "role_weights": draw(
            st.sampled_from([profile.weights for profile in CONFIG.roles.values()])
        ),
        "was_engineer": draw(arrays(np.float64, (1, n), elements=st.sampled_from([0.0, 1.0]))),
        "industry": draw(arrays(np.float64, (b, n), elements=unit)),
        "timezone": draw(arrays(np.float64, (b, n), elements=unit)),
    }


@settings(max_examples=100, deadline=None)
@given(case=scoring_cases())
def test_every_component_and_the_total_lie_in_the_unit_interval(case: dict[str, Any]) -> None:
    args = dict(case)
    scores = components(args.pop("current"), args.pop("target"), args.pop("mentor_levels"), **args)
    shape = scores.total.shape
    assert np.all((scores.total >= 0.0) & (scores.total <= 1.0))
    for name in COMPONENTS:
        values = getattr(scores, name)
        assert values.shape == shape
        assert np.all(np.isfinite(values))
        assert np.all(values >= -DUST), name
        assert np.all(values <= 1.0 + DUST), name


def test_components_stay_in_the_unit_interval_exactly() -> None:
    # Six equal gaps: each weight 1/6 rounds up to the next multiple of 2**-32, so a mentor
    # reaching all six has similarity, coverage and rare reach just above 1.
    six = SKILL_IDS[:6]
    current = vec({})
    target = vec(dict.fromkeys(six, 1))
    above = components(current, target, vec(dict.fromkeys(six, 5))[None, :], np.full(N_SKILLS, 0.3))
    # The only gap skill is common (rarity 0) and the mentor is strong everywhere else: the
    # unused rare strengths sum to just above 1, and scarcity dips below 0.
    market = np.full(N_SKILLS, 1 / 3)
    market[0] = 0.0
    below = components(vec({}), vec({SKILL_IDS[0]: 3}), np.full((1, N_SKILLS), 5), market)
    assert above.similarity[0, 0] <= 1.0
    assert above.coverage[0, 0] <= 1.0
    assert above.scarcity[0, 0] <= 1.0
    assert below.scarcity[0, 0] >= 0.0


# --- direction -----------------------------------------------------------------------------


@st.composite
def raise_cases(draw: st.DrawFn) -> dict[str, Any]:
    current = draw(level_vectors)
    target = draw(level_vectors)
    gap_skills = np.flatnonzero(target > current)
    if gap_skills.size == 0:  # make one gap
        skill = draw(st.integers(0, N_SKILLS - 1))
        current[skill] = draw(st.integers(0, 4))
        target[skill] = draw(st.integers(int(current[skill]) + 1, 5))
        gap_skills = np.array([skill])
    n = draw(st.integers(1, 5))
    pool_levels = draw(arrays(np.int64, (n, N_SKILLS), elements=levels))
    who = draw(st.integers(0, n - 1))
    skill = int(draw(st.sampled_from(gap_skills.tolist())))
    raised_to = draw(st.integers(int(pool_levels[who, skill]), 5))
    return {
        "current": current.astype(np.float64),
        "target": target.astype(np.float64),
        "pool_levels": pool_levels.astype(np.float64),
        "who": who,
        "skill": skill,
        "raised_to": raised_to,
        "market_rarity": draw(rarities),
        "target_role": draw(st.sampled_from([None, "Associate PM", "Senior PM", "Technical PM"])),
        "was_engineer": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "offsets": draw(st.lists(st.integers(-12, 14), min_size=n, max_size=n)),
    }


@settings(max_examples=100, deadline=None)
@given(case=raise_cases())
def test_raising_strength_on_a_gap_skill_never_lowers_any_part_of_the_score(
    case: dict[str, Any],
) -> None:
    someone = mentee(case["current"], case["target"], target_role=case["target_role"])

    def pool_of(strengths: np.ndarray) -> MentorPool:
        mentors = [
            mentor(row, was_engineer=engineer, utc_offset_hours=float(offset))
            for row, engineer, offset in zip(
                strengths, case["was_engineer"], case["offsets"], strict=True
            )
        ]
        return MentorPool(mentors, market_rarity=case["market_rarity"])

    raised = case["pool_levels"].copy()
    raised[case["who"], case["skill"]] = case["raised_to"]
    before = pool_of(case["pool_levels"]).score([someone])
    after = pool_of(raised).score([someone])
    who = case["who"]
    for name in ("total", "similarity", "coverage", "scarcity"):
        assert getattr(after, name)[0, who] >= getattr(before, name)[0, who], name
    # The other mentors do not move: the market is fixed.
    others = [i for i in range(raised.shape[0]) if i != who]
    assert after.total[0, others].tolist() == before.total[0, others].tolist()


@settings(max_examples=100, deadline=None)
@given(
    current=level_vectors,
    target=level_vectors,
    data=st.data(),
    market=rarities,
    soft=st.tuples(st.sampled_from([0.0, 1.0]), unit, unit),
)
def test_mentor_teaching_nothing_of_the_gap_scores_zero_whatever_the_soft_factors(
    current: np.ndarray,
    target: np.ndarray,
    data: st.DataObject,
    market: np.ndarray,
    soft: tuple[float, float, float],
) -> None:
    # At or below the mentee's current level on every gap skill, anything elsewhere.
    gap = target > current
    strengths = data.draw(level_vectors)
    strengths[gap] = np.minimum(strengths[gap], current[gap])
    was_engineer, industry, timezone = (np.full((1, 1), x) for x in soft)
    scores = components(
        current.astype(np.float64),
        target.astype(np.float64),
        strengths[None, :],
        market,
        was_engineer=was_engineer,
        industry=industry,
        timezone=timezone,
    )
    assert scores.similarity[0, 0] == 0.0
    assert scores.coverage[0, 0] == 0.0
    assert scores.total[0, 0] == 0.0


def test_mentor_teaching_nothing_scores_zero_even_with_every_soft_factor() -> None:
    current = vec({PRICING: 1})
    target = vec({PRICING: 4})
    everything_else = vec(dict.fromkeys(SKILL_IDS, 5)) - vec({PRICING: 5})
    scores = components(
        current,
        target,
        everything_else[None, :],
        np.full(N_SKILLS, 0.5),
        was_engineer=np.ones((1, 1)),
        industry=np.ones((1, 1)),
        timezone=np.ones((1, 1)),
    )
    assert scores.total[0, 0] == 0.0


# --- identical mentors, identical bits ------------------------------------------------------


def random_mentors(rng: np.random.Generator, n: int) -> list[Mentor]:
    return [
        Mentor(
            id=uuid.UUID(int=i + 1),
            languages=EN,
            strengths=rng.integers(0, 6, N_SKILLS).astype(np.float64),
            was_engineer=bool(rng.integers(0, 2)),
            utc_offset_hours=float(rng.integers(-12, 15)),
        )
        for i in range(n)
    ]


def random_mentees(rng: np.random.Generator, n: int) -> list[Mentee]:
    roles = [None, "Associate PM", "Senior PM", "Technical PM", "Product manager"]
    result = []
    for _ in range(n):
        current = rng.integers(0, 6, N_SKILLS).astype(np.float64)
        target = np.minimum(current + rng.integers(0, 4, N_SKILLS), 5.0)
        result.append(
            mentee(
                current,
                target,
                target_role=roles[int(rng.integers(0, len(roles)))],
                utc_offset_hours=float(rng.integers(-12, 15)),
            )
        )
    return result


def test_identical_mentors_get_bit_identical_scores_wherever_they_sit_in_a_large_pool() -> None:
    rng = np.random.default_rng(20261126)
    mentors = random_mentors(rng, 1000)
    clone_strengths = rng.integers(0, 6, N_SKILLS).astype(np.float64)
    positions = (0, 517, 999)
    clones = [
        Mentor(
            id=uuid.uuid4(),
            languages=EN,
            strengths=clone_strengths.copy(),
            was_engineer=True,
            utc_offset_hours=2.0,
        )
        for _ in positions
    ]
    for position, clone in zip(positions, clones, strict=True):
        mentors[position] = clone
    mentees = random_mentees(rng, 64)
    pool = MentorPool(mentors)
    # The same clone in pools of other sizes (the matrix product takes other code paths), with
    # the big pool's market so that rarity is the same.
    small_pools = [
        MentorPool(clones[:1], market_rarity=pool.rarity),
        MentorPool([*clones, *mentors[1:5]], market_rarity=pool.rarity),
    ]
    for batch in (mentees, mentees[:1], mentees[:3]):
        scores = pool.score(batch)
        assert scores.total[:, list(positions)].any()  # the clones score something
        others = [small.score(batch) for small in small_pools]
        for name in (*COMPONENTS, "total"):
            values = getattr(scores, name)
            first = values[:, positions[0]].tobytes()
            # Bit for bit, not approximately: equal mentors must tie exactly in the ranking.
            for position in positions[1:]:
                assert values[:, position].tobytes() == first, name
            for other in others:
                assert getattr(other, name)[:, 0].tobytes() == first, name


def test_a_mentors_score_does_not_depend_on_the_other_mentors_for_a_fixed_market() -> None:
    rng = np.random.default_rng(7)
    mentors = random_mentors(rng, 200)
    mentees = random_mentees(rng, 16)
    market = rng.uniform(0.0, 1.0, N_SKILLS)
    for batch in (mentees, mentees[:1], mentees[:3]):
        together = MentorPool(mentors, market_rarity=market).score(batch)
        for column, candidate in enumerate(mentors):
            alone = MentorPool([candidate], market_rarity=market).score(batch)
            for name in (*COMPONENTS, "total"):
                assert getattr(alone, name)[:, 0].tobytes() == (
                    getattr(together, name)[:, column].tobytes()
                ), (name, column)
        small = MentorPool(mentors[:10], market_rarity=market).score(batch)
        assert small.total.tobytes() == together.total[:, :10].copy().tobytes()


# --- timezones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "apart"),
    [
        (-10.0, 13.0, 1.0),
        (13.0, -10.0, 1.0),
        (-12.0, 14.0, 2.0),
        (0.0, 12.0, 12.0),
        (-6.0, 6.0, 12.0),
        (5.5, -3.0, 8.5),
        (1.0, 1.0, 0.0),
    ],
)
def test_hours_apart_wraps_around_the_clock(a: float, b: float, apart: float) -> None:
    assert float(hours_apart(np.array(a), np.array(b))) == apart


quarter_hour_offsets = st.integers(-48, 56).map(lambda quarters: quarters / 4)


@settings(max_examples=200, deadline=None)
@given(a=quarter_hour_offsets, b=quarter_hour_offsets)
def test_hours_apart_is_the_shorter_way_round_and_never_more_than_twelve(
    a: float, b: float
) -> None:
    apart = float(hours_apart(np.array(a), np.array(b)))
    forward = (a - b) % 24
    assert apart == min(forward, 24 - forward)
    assert 0.0 <= apart <= 12.0
    assert apart == float(hours_apart(np.array(b), np.array(a)))


def test_hours_apart_broadcasts_mentees_against_mentors() -> None:
    result = hours_apart(np.array([[0.0], [-10.0]]), np.array([0.0, 13.0, 3.0]))
    assert result.tolist() == [[0.0, 11.0, 3.0], [10.0, 1.0, 11.0]]


def test_timezone_overlap_is_one_at_zero_hours_and_zero_from_the_working_day_on() -> None:
    hours = CONFIG.working_hours
    apart = np.array([0.0, 3.0, hours - 1, hours, hours + 0.5, 12.0])
    overlap = timezone_overlap(apart, hours)
    assert overlap[0] == 1.0
    assert overlap[1] == pytest.approx((hours - 3) / hours)
    assert overlap[2] == pytest.approx(1 / hours)
    assert overlap[3:].tolist() == [0.0, 0.0, 0.0]
    assert np.all(np.diff(overlap) <= 0)


# --- scarcity ------------------------------------------------------------------------------


def scarcity_of(someone: Mentee, mentors: list[Mentor], market: np.ndarray | None) -> np.ndarray:
    scores = MentorPool(mentors, market_rarity=market).score([someone])
    result: np.ndarray = scores.scarcity[0]
    return result


def test_mentor_with_an_unneeded_rare_strength_scores_lower_on_scarcity() -> None:
    market = np.full(N_SKILLS, 0.2)
    market[SKILL_INDEX[GTM]] = 0.95  # few mentors are strong in go-to-market
    someone = mentee(vec({PRICING: 1, METRICS: 2}), vec({PRICING: 4, METRICS: 4}))
    plain = mentor(vec({PRICING: 4, METRICS: 3}))
    rare_spare = mentor(vec({PRICING: 4, METRICS: 3, GTM: 5}))
    common_spare = mentor(vec({PRICING: 4, METRICS: 3, TECH: 5}))
    pool = MentorPool([plain, rare_spare, common_spare], market_rarity=market)
    scores = pool.score([someone])
    # Equal on the gap skills...
    assert scores.similarity[0, 0] == scores.similarity[0, 1] == scores.similarity[0, 2]
    assert scores.coverage[0, 0] == scores.coverage[0, 1] == scores.coverage[0, 2]
    # ...but the rare go-to-market strength is better saved for a mentee who needs it.
    assert scores.scarcity[0, 1] < scores.scarcity[0, 2] < scores.scarcity[0, 0]
    assert scores.total[0, 1] < scores.total[0, 0]


def test_unneeded_rare_strength_lowers_scarcity_with_rarity_measured_on_the_pool() -> None:
    someone = mentee(vec({PRICING: 1}), vec({PRICING: 4}))
    plain = mentor(vec({PRICING: 4}))
    rare_spare = mentor(vec({PRICING: 4, GTM: 5}))
    crowd = [mentor(vec({TECH: 5, PRICING: 2})) for _ in range(8)]
    scarcity = scarcity_of(someone, [plain, rare_spare, *crowd], None)
    assert scarcity[1] < scarcity[0]


def test_a_rare_strength_the_mentee_needs_raises_scarcity_instead() -> None:
    # The same rare skill, but now the mentee needs it: no scarcity penalty, a bonus instead.
    market = np.full(N_SKILLS, 0.2)
    market[SKILL_INDEX[GTM]] = 0.95
    someone = mentee(vec({PRICING: 1, GTM: 1}), vec({PRICING: 4, GTM: 3}))
    without = mentor(vec({PRICING: 4}))
    with_gtm = mentor(vec({PRICING: 4, GTM: 5}))
    scarcity = scarcity_of(someone, [without, with_gtm], market)
    assert scarcity[1] > scarcity[0]


def test_strength_in_a_rare_gap_skill_beats_strength_in_a_common_one_on_scarcity() -> None:
    market = np.full(N_SKILLS, 0.5)
    market[SKILL_INDEX[PRICING]] = 0.9
    market[SKILL_INDEX[CUSTOMER]] = 0.1
    # Equal gaps, so the two mentors are equal on similarity and coverage.
    someone = mentee(vec({PRICING: 1, CUSTOMER: 1}), vec({PRICING: 4, CUSTOMER: 4}))
    rare_expert = mentor(vec({PRICING: 5}))
    common_expert = mentor(vec({CUSTOMER: 5}))
    scores = MentorPool([rare_expert, common_expert], market_rarity=market).score([someone])
    assert scores.similarity[0, 0] == scores.similarity[0, 1]
    assert scores.coverage[0, 0] == scores.coverage[0, 1]
    assert scores.scarcity[0, 0] > scores.scarcity[0, 1]
    assert scores.total[0, 0] > scores.total[0, 1]


def test_rare_gap_skill_wins_on_scarcity_with_rarity_measured_on_the_pool() -> None:
    someone = mentee(vec({PRICING: 1, CUSTOMER: 1}), vec({PRICING: 4, CUSTOMER: 4}))
    rare_expert = mentor(vec({PRICING: 5}))
    common_expert = mentor(vec({CUSTOMER: 5}))
    crowd = [mentor(vec({CUSTOMER: 4})) for _ in range(6)]
    scarcity = scarcity_of(someone, [rare_expert, common_expert, *crowd], None)
    assert scarcity[0] > scarcity[1]


# --- rank ----------------------------------------------------------------------------------


def test_rank_orders_best_first_and_breaks_ties_by_lower_index() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.0, 0.9])
    assert rank(scores, np.ones(5, dtype=bool)).tolist() == [1, 4, 0, 2]


def test_rank_leaves_out_ineligible_and_zero_scores() -> None:
    scores = np.array([0.9, 0.8, 0.0, 0.7])
    eligible = np.array([False, True, True, True])
    assert rank(scores, eligible).tolist() == [1, 3]


def test_rank_of_nothing_is_empty() -> None:
    assert rank(np.zeros(0), np.zeros(0, dtype=bool)).tolist() == []


@settings(max_examples=100, deadline=None)
@given(
    scores=arrays(np.float64, st.integers(0, 12), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0])),
    data=st.data(),
)
def test_rank_is_sorted_eligible_positive_and_stable(
    scores: np.ndarray, data: st.DataObject
) -> None:
    eligible = data.draw(arrays(np.bool_, scores.shape[0]))
    expected = sorted(
        (i for i in range(scores.shape[0]) if eligible[i] and scores[i] > 0),
        key=lambda i: (-scores[i], i),
    )
    assert rank(scores, eligible).tolist() == expected
