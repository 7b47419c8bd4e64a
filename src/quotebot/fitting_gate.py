"""Fitting the short-answer gate (:mod:`quotebot.confidence`) on articles with questions.

Every question of an article is answered through the engine with the gate open; each
short answer it would show becomes a row: its evidence, and whether it is right (token F1
of at least :data:`RIGHT_F1` against one of the question's gold answers; any short answer
to a question the article does not answer is wrong). A logistic model is fitted on the
rows, and the threshold is the lowest probability at which the shown answers of
out-of-fold predictions keep :data:`PRECISION` of them right (with a margin: thresholds
let through more wrong answers on an article they were not fitted on).

:func:`held_out` reports leave-one-article-out precision and recall: each article's short
answers judged by a gate fitted, threshold included, on the other articles only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from quotebot.confidence import FEATURES
from quotebot.engine import QuoteEngine
from quotebot.errors import QuotebotError
from quotebot.evaluate import Case, token_f1

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: A short answer is right when its token F1 against a gold answer is at least this.
RIGHT_F1 = 0.5
#: The share of shown short answers that must be right, held out.
PRECISION = 0.9
#: What the threshold is fitted to keep on the articles it is fitted on.
FIT_PRECISION = 0.93
#: L2 penalty on the weights (not the bias), per row.
L2 = 1e-3


@dataclass(frozen=True, slots=True)
class Rows:
    """One article's short answers: evidence, right or wrong, and how many questions it
    had that a right short answer could be given to."""

    x: FloatArray
    right: BoolArray
    answerable: int


def answer_rows(engine: QuoteEngine, cases: Sequence[Case]) -> Rows:
    """Every short answer ``engine`` gives to ``cases`` with the gate open."""
    xs: list[tuple[float, ...]] = []
    right: list[bool] = []
    for case in cases:
        answer = engine._answer(case.question.strip(), 3, 0, None, gate=False)
        short = answer.short
        if not answer.answered or short is None:
            continue
        xs.append(short.evidence)
        best = max((token_f1(short.text, g) for g in case.answers), default=0.0)
        right.append(case.answerable and best >= RIGHT_F1)
    x = np.asarray(xs, dtype=np.float64).reshape(-1, len(FEATURES))
    return Rows(x, np.asarray(right, dtype=bool), sum(c.answerable for c in cases))


def fit_weights(x: FloatArray, y: BoolArray, *, l2: float = L2) -> FloatArray:
    """Logistic regression weights (the first column is the bias, not penalised)."""
    if not len(y) or y.all() or not y.any():
        raise QuotebotError("The gate needs right and wrong short answers to fit on.")
    target = y.astype(np.float64)
    penalty = np.ones(x.shape[1])
    penalty[0] = 0.0
    n = len(y)

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        z = x @ w
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        value = float(np.sum(np.logaddexp(0.0, z) - target * z)) + l2 * n * float(
            np.sum(penalty * w * w))
        grad = x.T @ (p - target) + 2 * l2 * n * penalty * w
        return value, grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000})
    return np.asarray(result.x, dtype=np.float64)


def probabilities(x: FloatArray, w: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40))), dtype=np.float64)


def choose_threshold(p: FloatArray, y: BoolArray, precision: float) -> float:
    """The lowest threshold whose shown answers (probability at or above it) keep
    ``precision`` right, counted from the top down; 1.0 when none does."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(y[order])
    shown = np.arange(1, len(order) + 1)
    good = np.flatnonzero(hits / shown >= precision)
    # At least a handful of answers, so that one lucky answer sets no threshold.
    good = good[good >= 4]
    if not len(good):
        return 1.0
    return float(p[order[good[-1]]])


def out_of_fold(rows: Mapping[str, Rows]) -> tuple[FloatArray, BoolArray]:
    """Each article's probabilities from weights fitted on the others."""
    ps, ys = [], []
    for name, held in rows.items():
        others = [r for n, r in rows.items() if n != name]
        w = fit_weights(np.vstack([r.x for r in others]),
                        np.concatenate([r.right for r in others]))
        ps.append(probabilities(held.x, w))
        ys.append(held.right)
    return np.concatenate(ps), np.concatenate(ys)


def fit_gate(rows: Mapping[str, Rows], *, precision: float = FIT_PRECISION
             ) -> tuple[FloatArray, float]:
    """Weights fitted on every article's rows, and the threshold that keeps ``precision``
    of out-of-fold shown answers right."""
    w = fit_weights(np.vstack([r.x for r in rows.values()]),
                    np.concatenate([r.right for r in rows.values()]))
    if len(rows) < 2:
        return w, choose_threshold(probabilities(np.vstack([r.x for r in rows.values()]), w),
                                   np.concatenate([r.right for r in rows.values()]),
                                   precision)
    p, y = out_of_fold(rows)
    return w, choose_threshold(p, y, precision)


def summary(p: FloatArray, y: BoolArray, threshold: float, answerable: int
            ) -> dict[str, Any]:
    shown = p >= threshold
    right = int((shown & y).sum())
    return {
        "short_answers": int(len(y)), "right_before_gate": int(y.sum()),
        "shown": int(shown.sum()), "shown_right": right,
        "precision": round(right / shown.sum(), 4) if shown.any() else None,
        "precision_before_gate": round(float(y.mean()), 4) if len(y) else None,
        # Of the questions the article answers, how many get a right short answer.
        "recall": round(right / answerable, 4) if answerable else None,
        "recall_before_gate": round(int(y.sum()) / answerable, 4) if answerable else None,
    }


def held_out(rows: Mapping[str, Rows]) -> dict[str, Any]:
    """Leave-one-article-out: each article's short answers judged by a gate fitted on the
    other articles (its threshold from their out-of-fold probabilities)."""
    if len(rows) < 3:
        raise QuotebotError("Leave-one-article-out fitting of the gate needs three articles.")
    report: dict[str, Any] = {}
    ps, ys, thresholds = [], [], []
    for name, held in rows.items():
        others = {n: r for n, r in rows.items() if n != name}
        w, threshold = fit_gate(others)
        p = probabilities(held.x, w)
        report[name] = {**summary(p, held.right, threshold, held.answerable),
                        "threshold": round(threshold, 4)}
        ps.append(p >= threshold)
        ys.append(held.right)
        thresholds.append(threshold)
    shown = np.concatenate(ps)
    y = np.concatenate(ys)
    answerable = sum(r.answerable for r in rows.values())
    report["pooled"] = summary(shown.astype(np.float64), y, 0.5, answerable)
    return report
