"""Fitting the score's weights offline: the outcome target, the data set, weights files, and
fit then replay on a synthetic outcome set whose true weights differ from weights-v1 (the
fitted weights must rank the mentorships that went well better; directions, not numbers)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matching_service.config import MatchingSettings
from matching_service.matcher.scoring import COMPONENTS, default_config, parse_config
from matching_service.outcome import MatchOutcome
from matching_service.weights.__main__ import main
from matching_service.weights.dataset import (
    OutcomeSet,
    outcome_target,
    read_export,
    write_export,
)
from matching_service.weights.files import (
    next_version,
    packaged_document,
    read_weights,
    write_fitted,
)
from matching_service.weights.fitting import Fit, NoSignal, fit_weights, rounded_weights
from matching_service.weights.replay import ranking_figures, replay
from matching_service.weights.synthetic import DEFAULT_TRUE_WEIGHTS, generate, parse_weights
from pydantic import ValidationError

V1 = default_config()
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def outcome(**fields: Any) -> MatchOutcome:
    values: dict[str, Any] = {
        "match_id": uuid.uuid4(),
        "mentorship_id": uuid.uuid4(),
        "mentee_id": uuid.uuid4(),
        "mentor_id": uuid.uuid4(),
        "ending": "completed",
        "completed": True,
        "started_at": T0,
        "ended_at": T0 + timedelta(days=60),
        "score": 0.7,
        "score_breakdown": dict.fromkeys(COMPONENTS, 0.5),
        "algorithm_version": "skill-gap-v3",
        "weights_version": "weights-v1",
        "origin": "online",
        "proposed_at": T0 - timedelta(days=3),
    }
    return MatchOutcome(**(values | fields))


@pytest.fixture(scope="module")
def synthetic() -> OutcomeSet:
    """Mentorships that went as DEFAULT_TRUE_WEIGHTS say (far from weights-v1's)."""
    return OutcomeSet.of(generate(1500, V1, DEFAULT_TRUE_WEIGHTS, seed=7))


@pytest.fixture(scope="module")
def fit(synthetic: OutcomeSet) -> Fit:
    return fit_weights(synthetic, V1, folds=4)


# --- the target -----------------------------------------------------------------------------


def test_the_target_blends_gap_closed_completion_satisfaction_and_recommendation() -> None:
    best = outcome(gap_closed=1.0, mentee_csat=5, mentor_csat=5, mentee_nps=10, mentor_nps=10)
    worst = outcome(completed=False, ending="lapsed", gap_closed=0.0, mentee_csat=1, mentee_nps=0)
    middling = outcome(gap_closed=0.5, mentee_csat=3, mentee_nps=5)

    assert outcome_target(best) == pytest.approx(1.0)
    assert outcome_target(worst) == pytest.approx(0.0)
    # 0.4 * 0.5 + 0.2 * 1 + 0.25 * 0.5 + 0.15 * 0.5
    assert outcome_target(middling) == pytest.approx(0.6)


def test_parts_nobody_reported_are_left_out_not_counted_as_zero() -> None:
    only_completed = outcome()
    with_survey = outcome(mentee_csat=1, mentor_csat=5)

    assert outcome_target(only_completed) == pytest.approx(1.0)
    # completion (0.2 * 1) and the two sides' mean satisfaction (0.25 * 0.5), weighted up
    assert outcome_target(with_survey) == pytest.approx((0.2 + 0.125) / 0.45)


def test_the_set_leaves_out_proposals_scored_without_every_part() -> None:
    older = outcome(score_breakdown={"similarity": 0.9, "coverage": 0.5})
    data = OutcomeSet.of([outcome(gap_closed=0.9), older, outcome(completed=False, gap_closed=0.1)])

    assert (len(data), data.skipped) == (2, 1)
    assert data.features.shape == (2, len(COMPONENTS))
    assert data.success.tolist() == [True, False]
    assert data.period() == (T0 + timedelta(days=60), T0 + timedelta(days=60))
    assert OutcomeSet.of([]).period() is None


# --- fit and replay -------------------------------------------------------------------------


def test_fitted_weights_rank_the_mentorships_that_went_well_better_than_weights_v1(
    synthetic: OutcomeSet, fit: Fit
) -> None:
    fitted = parse_config(
        packaged_document() | {"version": "weights-v2", "components": fit.weights}
    )

    report = replay(synthetic, V1, fitted)

    assert report.candidate.figures.ndcg > report.current.figures.ndcg
    assert report.candidate.figures.successful_rank is not None
    assert report.current.figures.successful_rank is not None
    assert report.candidate.figures.successful_rank < report.current.figures.successful_rank
    assert report.candidate.figures.pairwise is not None
    assert report.current.figures.pairwise is not None
    assert report.candidate.figures.pairwise > report.current.figures.pairwise
    # Held out in every fold too, not only on the data it was fitted on.
    assert all(fold.ndcg_fitted > fold.ndcg_base for fold in fit.folds)


def test_the_fit_moves_the_weights_towards_the_true_ones(fit: Fit) -> None:
    fitted = np.array([fit.weights[name] for name in COMPONENTS])
    truth = np.array([DEFAULT_TRUE_WEIGHTS[name] for name in COMPONENTS])

    assert np.abs(fitted - truth).sum() < np.abs(V1.weight_vector() - truth).sum()
    assert sum(fit.weights.values()) == pytest.approx(1.0)
    assert min(fit.weights.values()) >= 0
    assert fit.alpha in fit.errors
    assert fit.validation()["folds"] == 4


def test_outcomes_unrelated_to_the_score_give_no_weights() -> None:
    rng = np.random.default_rng(3)
    noise = [
        outcome(
            score_breakdown={name: float(rng.random()) for name in COMPONENTS},
            gap_closed=0.5,
            mentee_csat=3,
        )
        for _ in range(40)
    ]

    with pytest.raises(NoSignal, match="keep the current weights"):
        fit_weights(OutcomeSet.of(noise), V1, folds=4)


def test_too_few_outcomes_for_the_folds_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be split"):
        fit_weights(OutcomeSet.of([outcome()] * 5), V1, folds=5)


def test_rounded_weights_still_sum_to_one() -> None:
    weights = rounded_weights(np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 6)

    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(len(f"{w}".split(".")[1]) <= 4 for w in weights.values())


def test_a_ranking_in_the_order_of_the_outcomes_is_perfect() -> None:
    data = OutcomeSet.of(
        [
            outcome(
                score_breakdown=dict.fromkeys(COMPONENTS, quality),
                gap_closed=quality,
                completed=quality > 0.5,
            )
            for quality in (0.1, 0.4, 0.7, 0.95)
        ]
    )

    aligned = ranking_figures(data, V1.weight_vector())
    # The same proposals, their outcomes turned upside down.
    flipped = OutcomeSet.of(
        [
            o.model_copy(
                update={"gap_closed": 1 - (o.gap_closed or 0), "completed": not o.completed}
            )
            for o in data.outcomes
        ]
    )
    upside_down = ranking_figures(flipped, V1.weight_vector())

    assert aligned.ndcg == pytest.approx(1.0)
    assert aligned.pairwise == pytest.approx(1.0)
    assert aligned.successful_rank == pytest.approx(1 / 6)  # the top two of four: 0 and 1/3
    assert upside_down.ndcg < aligned.ndcg
    assert upside_down.pairwise == pytest.approx(0.0)


# --- synthetic data -------------------------------------------------------------------------


def test_generated_outcomes_are_reproducible_and_follow_the_true_weights() -> None:
    first = generate(200, V1, DEFAULT_TRUE_WEIGHTS, seed=1)
    again = generate(200, V1, DEFAULT_TRUE_WEIGHTS, seed=1)

    assert first == again
    data = OutcomeSet.of(first)
    truth = np.array([DEFAULT_TRUE_WEIGHTS[name] for name in COMPONENTS])
    quality = data.features @ truth
    assert np.corrcoef(quality, data.target)[0, 1] > 0.8
    assert {o.weights_version for o in first} == {"weights-v1"}
    assert all(
        o.score == pytest.approx(float(f @ V1.weight_vector()), abs=1e-3)
        for o, f in zip(first, data.features, strict=True)
    )


def test_true_weights_are_read_as_every_component_with_a_weight() -> None:
    text = "similarity=2,coverage=0,scarcity=0,was_engineer=1,industry=0,timezone=1"

    assert parse_weights(text) == {
        "similarity": 0.5,
        "coverage": 0.0,
        "scarcity": 0.0,
        "was_engineer": 0.25,
        "industry": 0.0,
        "timezone": 0.25,
    }
    with pytest.raises(ValueError, match="missing"):
        parse_weights("similarity=1")
    with pytest.raises(ValueError, match="unknown component 'charm'"):
        parse_weights(text + ",charm=1")
    with pytest.raises(ValueError, match="must be a number"):
        parse_weights(text.replace("=2", "=lots"))
    with pytest.raises(ValueError, match="non-negative"):
        parse_weights(text.replace("=2", "=-2"))


# --- files ------------------------------------------------------------------------------------


def test_an_export_reads_back_as_written(tmp_path: Path) -> None:
    outcomes = generate(5, V1, seed=2)
    write_export(tmp_path / "outcomes.json", outcomes)

    assert read_export(tmp_path / "outcomes.json") == outcomes


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("not json", "is not JSON"),
        ('{"exported_at": "2026-01-01T00:00:00Z", "outcomes": [{"match_id": 1}]}', "outcomes.0"),
        ('{"kind": "weights", "exported_at": "2026-01-01T00:00:00Z", "outcomes": []}', "holds"),
    ],
)
def test_a_bad_export_is_refused_naming_the_file_and_field(
    tmp_path: Path, content: str, error: str
) -> None:
    path = tmp_path / "outcomes.json"
    path.write_text(content)

    with pytest.raises(ValueError, match=error) as refused:
        read_export(path)
    assert str(path) in str(refused.value)


def test_the_next_version_is_above_the_base_and_every_file_and_none_is_overwritten(
    tmp_path: Path,
) -> None:
    assert next_version(tmp_path / "missing", "weights-v1") == "weights-v2"
    components = rounded_weights(np.full(6, 1 / 6))

    first = write_fitted(tmp_path, packaged_document(), components, {"outcomes": 1})
    (tmp_path / "weights-v7.json").write_text(first.read_text())
    second = write_fitted(tmp_path, packaged_document(), components, {"outcomes": 2})

    assert (first.name, second.name) == ("weights-v2.json", "weights-v8.json")
    written = json.loads(second.read_text())
    assert written["version"] == "weights-v8"
    assert written["fitted"] == {"outcomes": 2}
    assert written["roles"] == packaged_document()["roles"]
    assert read_weights(second).weights == pytest.approx(components)


def test_a_weights_file_the_matcher_cannot_use_is_refused_at_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "weights-v9.json"
    broken.write_text(json.dumps(packaged_document() | {"components": {"similarity": 1.0}}))
    good = write_fitted(
        tmp_path,
        packaged_document(),
        dict.fromkeys(COMPONENTS, 1 / 6) | {"similarity": 1 / 6 + 1e-12},
        {},
    )

    with pytest.raises(ValidationError, match="scoring_weights_file") as refused:
        MatchingSettings(scoring_weights_file=broken)
    assert "weights-v9.json" in str(refused.value)
    with pytest.raises(ValidationError, match="cannot read"):
        MatchingSettings(scoring_weights_file=tmp_path / "absent.json")
    chosen = MatchingSettings(scoring_weights_file=good).match_policy().config
    assert chosen.version == "weights-v10"
    assert MatchingSettings(scoring_weights_file="").match_policy().config.version == "weights-v1"


# --- the command line -------------------------------------------------------------------------


def test_generate_fit_and_replay_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCORING_WEIGHTS_FILE", raising=False)
    outcomes, weights = tmp_path / "outcomes.json", tmp_path / "weights"

    assert main(["generate", "--output", str(outcomes), "--count", "600", "--seed", "5"]) == 0
    assert (
        main(["fit", "--outcomes", str(outcomes), "--output-dir", str(weights), "--folds", "3"])
        == 0
    )
    fitted = weights / "weights-v2.json"
    assert fitted.exists()
    document = json.loads(fitted.read_text())
    assert document["fitted"]["outcomes"] == 600
    assert document["fitted"]["base_version"] == "weights-v1"
    assert set(document["fitted"]["cross_validation"]) >= {"r2", "ndcg_fitted", "ndcg_base"}
    capsys.readouterr()

    assert main(["replay", "--outcomes", str(outcomes), "--candidate", str(fitted), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["candidate"]["version"] == "weights-v2"
    assert report["current"]["version"] == "weights-v1"
    assert report["candidate"]["figures"]["ndcg"] > report["current"]["figures"]["ndcg"]


def test_the_command_line_says_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = tmp_path / "outcomes.json"
    write_export(outcomes, generate(20, V1, seed=1))

    assert main(["fit", "--outcomes", str(outcomes), "--output-dir", str(tmp_path)]) == 2
    assert "fewer than --min-outcomes 50" in capsys.readouterr().err
    assert main(["replay", "--outcomes", str(tmp_path / "none.json"), "--candidate", "x"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["generate", "--output", str(outcomes), "--true-weights", "similarity=1"]) == 2
    assert "missing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "fit" in capsys.readouterr().out
