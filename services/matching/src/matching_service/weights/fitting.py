"""Fitting the components' weights: a ridge regression of the outcome target over the parts of
each proposal's score, its coefficients kept non-negative, its strength chosen by k-fold
cross-validation; the coefficients, scaled to sum to 1, are the new weights.

The score is a weighted sum of parts, so a linear model over the same parts is the model the
matcher can use as it is: a larger coefficient means a part that went with better
mentorships. Non-negative, because every part is built so that more is better for the mentee;
a part with no signal gets 0 rather than a negative weight that would penalise, say, a shared
timezone. The regularisation keeps a small or noisy outcome set from swinging the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from ..matcher.scoring import COMPONENTS, FloatArray, ScoringConfig
from .dataset import OutcomeSet
from .replay import ranking_figures

#: Regularisation strengths tried; the one with the lowest cross-validated error wins.
ALPHAS = (0.001, 0.01, 0.1, 1.0, 10.0)
#: Decimals of the written weights.
DECIMALS = 4


class NoSignal(ValueError):
    """No part of the score goes with better outcomes: there is nothing to fit weights from."""


@dataclass(frozen=True)
class FoldFigures:
    """A held-out fold: how well the model predicted it, and how each weight set ranked it."""

    r2: float
    ndcg_fitted: float
    ndcg_base: float


@dataclass(frozen=True)
class Fit:
    weights: dict[str, float]
    alpha: float
    intercept: float
    coefficients: dict[str, float]
    folds: list[FoldFigures] = field(default_factory=list)
    #: Mean squared error of each alpha tried, cross-validated.
    errors: dict[float, float] = field(default_factory=dict)

    def validation(self) -> dict[str, Any]:
        """The cross-validation figures, as the weights file records them."""

        def summary(values: list[float]) -> dict[str, float]:
            return {
                "mean": round(float(np.mean(values)), 4),
                "std": round(float(np.std(values)), 4),
            }

        return {
            "folds": len(self.folds),
            "alpha": self.alpha,
            "alphas_tried": {str(alpha): round(error, 6) for alpha, error in self.errors.items()},
            "r2": summary([f.r2 for f in self.folds]),
            "ndcg_fitted": summary([f.ndcg_fitted for f in self.folds]),
            "ndcg_base": summary([f.ndcg_base for f in self.folds]),
        }


def fit_weights(
    data: OutcomeSet,
    base: ScoringConfig,
    *,
    folds: int = 5,
    seed: int = 0,
    alphas: tuple[float, ...] = ALPHAS,
    on_step: Callable[[], None] = lambda: None,
) -> Fit:
    """Fit weights on `data`; `base` is what the held-out folds are also ranked with, for
    comparison. `on_step` is called once per model fitted (a progress bar counts them:
    `len(alphas) * folds + folds + 1`)."""
    if len(data) < 2 * folds:
        raise ValueError(f"{len(data)} outcomes cannot be split into {folds} folds of two or more")
    splits = list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(data.features))
    errors: dict[float, float] = {}
    for alpha in alphas:
        squared = []
        for train, test in splits:
            model = _model(alpha).fit(data.features[train], data.target[train])
            squared.append(
                float(np.mean((model.predict(data.features[test]) - data.target[test]) ** 2))
            )
            on_step()
        errors[alpha] = float(np.mean(squared))
    alpha = min(errors, key=lambda a: (errors[a], -a))  # ties: the stronger regularisation
    base_weights = base.weight_vector()
    fold_figures = []
    for train, test in splits:
        model = _model(alpha).fit(data.features[train], data.target[train])
        held_out = _subset(data, test)
        fold_figures.append(
            FoldFigures(
                r2=float(r2_score(held_out.target, model.predict(held_out.features))),
                ndcg_fitted=ranking_figures(held_out, _normalised(model.coef_)).ndcg,
                ndcg_base=ranking_figures(held_out, base_weights).ndcg,
            )
        )
        on_step()
    model = _model(alpha).fit(data.features, data.target)
    on_step()
    coefficients = np.asarray(model.coef_, dtype=np.float64)
    if coefficients.sum() <= 0:
        raise NoSignal(
            "no part of the score goes with better outcomes in this data; keep the current "
            "weights and fit again when more mentorships have ended"
        )
    return Fit(
        weights=rounded_weights(_normalised(coefficients)),
        alpha=alpha,
        intercept=round(float(model.intercept_), 6),
        coefficients={
            name: round(float(c), 6) for name, c in zip(COMPONENTS, coefficients, strict=True)
        },
        folds=fold_figures,
        errors=errors,
    )


def rounded_weights(weights: FloatArray) -> dict[str, float]:
    """Weights rounded to `DECIMALS` that still sum to exactly 1 (the rounding's rest goes to
    the largest)."""
    rounded = np.round(weights, DECIMALS)
    largest = int(np.argmax(rounded))
    rounded[largest] = round(1.0 - float(rounded.sum() - rounded[largest]), DECIMALS)
    return {name: float(w) for name, w in zip(COMPONENTS, rounded, strict=True)}


def _model(alpha: float) -> Ridge:
    return Ridge(alpha=alpha, positive=True)


def _normalised(coefficients: FloatArray) -> FloatArray:
    total = float(np.sum(coefficients))
    if total <= 0:
        return np.full(len(COMPONENTS), 1.0 / len(COMPONENTS))
    normalised: FloatArray = np.asarray(coefficients, dtype=np.float64) / total
    return normalised


def _subset(data: OutcomeSet, rows: Any) -> OutcomeSet:
    return OutcomeSet(
        outcomes=[data.outcomes[int(i)] for i in rows],
        features=data.features[rows],
        target=data.target[rows],
        success=data.success[rows],
        skipped=0,
    )
