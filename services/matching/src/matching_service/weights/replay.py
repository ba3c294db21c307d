"""Replaying past proposals with other weights: how would they have been ranked?

Every past proposal (one per finished mentorship) is scored again from its recorded parts with
each weight set, and the proposals are ranked by that score. A weight set ranks them well when
the mentorships that went well come first:

- NDCG: normalised discounted cumulative gain of the ranking, with how well each mentorship
  went (the target, 0 to 1) as its gain: 1 when the ranking is in the order of the outcomes;
- successful rank: where the mentorships that did well sit in the ranking, on average, as a
  share of its length (0 the top, 1 the bottom; lower is better);
- pairwise: of all pairs of one mentorship that did well and one that did not, the share the
  weights rank the right way round (the area under the ROC curve; 0.5 is a coin toss).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import rankdata
from sklearn.metrics import ndcg_score, roc_auc_score

from ..matcher.scoring import COMPONENTS, FloatArray, ScoringConfig
from .dataset import OutcomeSet


@dataclass(frozen=True)
class RankingFigures:
    ndcg: float
    successful_rank: float | None
    pairwise: float | None

    def better_than(self, other: RankingFigures) -> bool:
        return self.ndcg > other.ndcg


@dataclass(frozen=True)
class WeightsReplay:
    version: str
    weights: dict[str, float]
    figures: RankingFigures


@dataclass(frozen=True)
class ReplayReport:
    proposals: int
    did_well: int
    current: WeightsReplay
    candidate: WeightsReplay

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ranking_figures(data: OutcomeSet, weights: FloatArray) -> RankingFigures:
    """How the proposals of `data`, scored with `weights` (in `COMPONENTS` order), rank."""
    scores = data.features @ weights
    ndcg = float(ndcg_score(data.target[None, :], scores[None, :])) if len(data) > 1 else 1.0
    successful = data.success
    if not successful.any():
        return RankingFigures(ndcg=ndcg, successful_rank=None, pairwise=None)
    # Tied scores share their mean position, so no tie is broken in anyone's favour.
    position = (rankdata(-scores, method="average") - 1) / max(len(data) - 1, 1)
    pairwise = float(roc_auc_score(successful, scores)) if not successful.all() else None
    return RankingFigures(
        ndcg=ndcg, successful_rank=float(position[successful].mean()), pairwise=pairwise
    )


def replay(data: OutcomeSet, current: ScoringConfig, candidate: ScoringConfig) -> ReplayReport:
    """The past proposals ranked by the weights in use and by a candidate."""

    def run(config: ScoringConfig) -> WeightsReplay:
        return WeightsReplay(
            version=config.version,
            weights={name: config.weights[name] for name in COMPONENTS},
            figures=ranking_figures(data, config.weight_vector()),
        )

    return ReplayReport(
        proposals=len(data),
        did_well=int(data.success.sum()),
        current=run(current),
        candidate=run(candidate),
    )


def describe(report: ReplayReport) -> str:
    """The report as a reader reads it: a table and one sentence."""

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    rows = [
        ("NDCG (higher is better)", report.current.figures.ndcg, report.candidate.figures.ndcg),
        (
            "rank of those who did well (lower is better)",
            report.current.figures.successful_rank,
            report.candidate.figures.successful_rank,
        ),
        (
            "pairs ranked the right way (higher is better)",
            report.current.figures.pairwise,
            report.candidate.figures.pairwise,
        ),
    ]
    width = max(len(label) for label, _, _ in rows)
    current, candidate = report.current.version, report.candidate.version
    lines = [
        f"{report.proposals} past proposals, {report.did_well} of whose mentorships did well.",
        "",
        f"{'':{width}}  {current:>12}  {candidate:>12}",
        *(f"{label:{width}}  {number(a):>12}  {number(b):>12}" for label, a, b in rows),
        "",
        f"{'weight':{width}}  {current:>12}  {candidate:>12}",
        *(
            f"{name:{width}}  {report.current.weights[name]:>12.4f}  "
            f"{report.candidate.weights[name]:>12.4f}"
            for name in COMPONENTS
        ),
        "",
    ]
    if report.candidate.figures.better_than(report.current.figures):
        lines.append(f"{candidate} ranks the past proposals better than {current}.")
    else:
        lines.append(f"{candidate} does not rank the past proposals better than {current}.")
    return "\n".join(lines)
