"""Fitting the short-answer gate (:mod:`quotebot.confidence`) on groups of questions.

Every question of an article is answered through the engine with the gate open; each
short answer it would show becomes a row: its evidence, and whether it is right (token F1
of at least :data:`RIGHT_F1` against one of the question's gold answers; any short answer
to a question the article does not answer is wrong). Conversations over short passages
give rows the same way, turn by turn (:func:`conversation_rows`). A logistic model is
fitted on the rows, those found with meaning and by words alone together
(:func:`combined`): one gate judges both, and learns what missing vectors take away.
Measured evidence is standardised before the fit, so that its penalty weighs every piece
alike. How strongly the weights are held back, and which evidence is fitted at all, is
chosen by how well the probabilities hold on groups left out of the fit
(:func:`choose_penalty`): the leave-one-group-out log loss, with the evidence whose weight
changes sign between folds left out.

The short answers given to the articles' answerable questions asked without the paragraphs
that answer them are fitted on too, as wrong ones, with the bias then refitted on the real
rows alone (:func:`fit_gate`): no training article but one (Sky, SQuAD 2.0) has questions
its text does not answer, and these rows teach every fold what a short answer from a
passage that only seems to answer looks like. Held out they raise the log loss of the real
rows (0.627 against 0.593) but make the most probable answers right more often, on Sky
most (13 shown at 0.9, 92% right, against 9 and 78%).

So are, when they weigh anything, the short answers given to the articles' answerable
questions changed so that the paragraph, kept, no longer answers them
(:func:`quotebot.perturbed.variants`: a word it holds replaced by one it does not, a
negation added or taken away, a word turned into its opposite, a name swapped for another
it gives, an unstated qualifier): each weighs a share of a real one, chosen by the
held-out log loss of the real rows (:func:`choose_weighting`). On today's groups the data
choose 0: any weight raises that log loss, though a small one makes the most probable
answers right more often (docs/quality.md).

A short answer is shown when the model gives it at least the threshold: the lowest
probability at which the short answers shown are expected, by their own held-out
probabilities, to be right a share of the time (:func:`expected_threshold`). Held out,
probabilities run high on groups unlike those fitted on, so that share is not 0.9 itself
but the lowest of :data:`EXPECTED_TARGETS` whose thresholds, fitted without each group,
show short answers right :data:`TARGET_PRECISION` of the time on the groups they were not
fitted on (:func:`choose_target`); an engine that answers by words alone has its own
threshold. Below it the quotes alone answer: a quote is always a safe answer, a wrong
short answer in bold is not. A 95% lower confidence bound on that precision
(:func:`precision_bound`) is reported beside it; no threshold reaches 0.9 with it on
today's groups (it would ask for about 95% right of a hundred shown).

:func:`held_out` reports leave-one-group-out precision, recall, AUC, log loss and
reliability, also of the short answers given without the paragraphs that answer: each
group's short answers judged by a gate fitted on the other groups only.
:func:`nested_held_out` measures what the gate and its threshold are worth on a group
none of them was fitted on: each group judged by weights and a threshold fitted on the
other groups only. A threshold chosen from which answers were right (:func:`fit_threshold`)
carried to unseen groups worse than one read from the probabilities (84% against 91% of
shown short answers right, with meaning).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize, minimize_scalar

from quotebot.analysis import terms as analyse_terms
from quotebot.answer_overlap import token_f1
from quotebot.confidence import FEATURES
from quotebot.conversation_eval import ConversationCase
from quotebot.engine import QuoteEngine
from quotebot.errors import QuotebotError
from quotebot.evaluate import Case
from quotebot.fitting import paragraph_texts
from quotebot.perturbed import WordPool, variants
from quotebot.session import Session

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

#: A short answer is right when its token F1 against a gold answer is at least this.
RIGHT_F1 = 0.5
#: The precision asked of the short answers shown.
TARGET_PRECISION = 0.9
#: Each short answer shown at least as likely right as the precision asked of them all: the
#: threshold before it was read from the probabilities (reported beside it).
THRESHOLD = TARGET_PRECISION
#: A precision measured over fewer shown short answers than this says too little.
MIN_SHOWN = 20
#: L2 penalty on the weights (not the bias), per row, unless chosen (:func:`choose_penalty`).
L2 = 1e-3
#: The L2 strengths the gate's penalty is chosen from, by held-out log loss.
L2_CHOICES = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
#: How much each short answer to a question with a word replaced (:mod:`quotebot.perturbed`)
#: weighs in the fit against a real one, unless chosen (:func:`choose_penalty`).
PERTURBED_WEIGHT = 0.5
#: The weights those are chosen from, by held-out log loss: enough of them would swamp the
#: real short answers, which the probabilities are about.
PERTURBED_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
#: How many times evidence whose weight changes sign between folds is left out.
PRUNING_ROUNDS = 4
#: The one-sided confidence (as a normal quantile: 95%) of the lower bound reported on the
#: precision of shown short answers (:func:`precision_bound`).
CONFIDENCE_Z = 1.645
#: The precisions a threshold may be asked to expect of the short answers it shows, fitted
#: on some groups (:func:`expected_threshold`): the lowest whose thresholds give
#: :data:`TARGET_PRECISION` on the groups they were not fitted on is kept
#: (:func:`choose_target`).
EXPECTED_TARGETS = (0.90, 0.91, 0.92, 0.93, 0.94, 0.95)
#: The bins of probability a reliability table reports.
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)


@dataclass(frozen=True, slots=True)
class Penalty:
    """How the gate is fitted: the L2 strength, the evidence left out of the fit, and how
    much a short answer to a question with a word replaced weighs."""

    l2: float = L2
    dropped: frozenset[str] = frozenset()
    perturbed: float = PERTURBED_WEIGHT

    def keep(self) -> BoolArray:
        return np.array([f not in self.dropped for f in FEATURES], dtype=bool)


def _no_rows() -> FloatArray:
    return np.zeros((0, len(FEATURES)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Rows:
    """One article's short answers: evidence, right or wrong, and how many questions it
    had that a right short answer could be given to; and the evidence of the short answers
    given to its answerable questions asked without the paragraphs that answer them (all
    wrong: fitted on, never judged)."""

    x: FloatArray
    right: BoolArray
    answerable: int
    left_out: FloatArray = field(default_factory=_no_rows)
    #: The evidence of the short answers given to its answerable questions with one word
    #: the answering paragraph holds replaced by one it does not (:mod:`quotebot.perturbed`):
    #: all wrong, fitted on with :attr:`Penalty.perturbed` weight, never judged.
    perturbed: FloatArray = field(default_factory=_no_rows)
    #: What was changed in each question of :attr:`perturbed` (:data:`quotebot.perturbed.CHANGES`).
    changes: StrArray = field(default_factory=lambda: np.zeros(0, dtype=str))


def answer_rows(engine: QuoteEngine, cases: Sequence[Case], *, left_out: bool = False,
                perturbed: bool = False) -> Rows:
    """Every short answer ``engine`` gives to ``cases`` with the gate open; with
    ``left_out``, also those it gives to the answerable ones asked of the article without
    the paragraphs that hold their answers, and with ``perturbed`` those it gives to them
    with one word the answering paragraph holds replaced by one it does not
    (:func:`quotebot.perturbed.variants`: a word replaced, a negation added or taken away,
    a word turned into its opposite, a name swapped for another of the paragraph's, an
    unstated qualifier). An article with unanswerable questions is rare; these teach every
    fold what a short answer from a passage that only seems to answer looks like."""
    xs: list[tuple[float, ...]] = []
    right: list[bool] = []
    wrong: list[tuple[float, ...]] = []
    changed: list[tuple[float, ...]] = []
    changes: list[str] = []
    # As written (a name is told by its capital), and case-folded: read once.
    written = paragraph_texts(engine, folded=False) if left_out or perturbed else []
    paragraphs = [text.casefold() for text in written]
    pool = (WordPool.of(engine.index.sentence_text(s) for s in range(engine.index.n_sentences))
            if perturbed else None)
    for case in cases:
        question = case.question.strip()
        answer = engine._answer(question, 3, 0, None, gate=False)
        short = answer.short
        if answer.answered and short is not None:
            xs.append(short.evidence)
            best = max((token_f1(short.text, g) for g in case.answers), default=0.0)
            right.append(case.answerable and best >= RIGHT_F1)
        golds = [g.casefold() for g in case.expect]
        holding = frozenset(n for n, text in enumerate(paragraphs)
                            if any(g in text for g in golds))
        if case.answerable and holding and left_out:
            other = engine._answer(question, 3, 0, None, gate=False, leave_out=holding)
            if other.answered and other.short is not None:
                wrong.append(other.short.evidence)
        if case.answerable and holding and pool is not None:
            paragraph = " ".join(written[n] for n in sorted(holding))
            kept = {t for g in (*case.answers, *case.expect) for t in analyse_terms(g)}
            for variant in variants(question, case.id, paragraph, pool, kept):
                other = engine._answer(variant.question, 3, 0, None, gate=False)
                if other.answered and other.short is not None:
                    changed.append(other.short.evidence)
                    changes.append(variant.change)
    x = np.asarray(xs, dtype=np.float64).reshape(-1, len(FEATURES))
    return Rows(x, np.asarray(right, dtype=bool), sum(c.answerable for c in cases),
                np.asarray(wrong, dtype=np.float64).reshape(-1, len(FEATURES)),
                np.asarray(changed, dtype=np.float64).reshape(-1, len(FEATURES)),
                np.asarray(changes, dtype=str))


def conversation_rows(engine: QuoteEngine, cases: Sequence[ConversationCase]) -> Rows:
    """Every short answer ``engine`` finds for the turns of conversations over short
    passages (``cases``, one document each), asked turn by turn through a conversation as
    people ask them: its evidence, and whether it is right against the answer a person
    gave. Turns answered yes or no are left out: their answer is not a span. ``engine``'s
    gate is set to withhold every short answer."""
    # Every short answer is withheld, never shown, so the conversation goes on from the
    # same answers whatever the gate fitted before would show; each keeps its evidence.
    engine._gate = replace(engine._gate, threshold=float("inf"), words_threshold=float("inf"),
                           lead=0.0)
    xs: list[tuple[float, ...]] = []
    right: list[bool] = []
    answerable = 0
    for case in cases:
        session = Session(engine, doc=case.doc)
        for turn in case.turns:
            answer = session.ask(turn.question)
            if turn.yesno is not None:
                continue
            answerable += turn.answerable
            short = answer.withheld or answer.short
            if answer.answered and short is not None and short.evidence:
                xs.append(short.evidence)
                right.append(turn.answerable and token_f1(short.text, turn.answer) >= RIGHT_F1)
    return Rows(np.asarray(xs, dtype=np.float64).reshape(-1, len(FEATURES)),
                np.asarray(right, dtype=bool), answerable)


def fit_weights(x: FloatArray, y: BoolArray, *, l2: float = L2,
                keep: BoolArray | None = None, weight: FloatArray | None = None
                ) -> FloatArray:
    """Logistic regression weights (the first column is the bias, not penalised); only the
    columns ``keep`` marks are fitted, the others weigh 0; each row weighs its ``weight``
    (by default 1)."""
    if not len(y) or y.all() or not y.any():
        raise QuotebotError("The gate needs right and wrong short answers to fit on.")
    if keep is not None:
        out = np.zeros(x.shape[1], dtype=np.float64)
        out[keep] = fit_weights(x[:, keep], y, l2=l2, weight=weight)
        return out
    target = y.astype(np.float64)
    rows = np.ones(len(y)) if weight is None else weight
    penalty = np.ones(x.shape[1])
    penalty[0] = 0.0
    n = float(rows.sum())
    # Measured evidence (a cosine, a log-count, a share) is standardised, so that the
    # penalty weighs each alike whatever its units; the weights are put back in the
    # evidence's own units. Yes/no evidence stays 0 or 1: standardised, a rule that found
    # three answers would be penalised as little as one that found hundreds.
    mean, scale = x.mean(axis=0), x.std(axis=0)
    yes_no = np.all((x == 0.0) | (x == 1.0), axis=0)
    mean[yes_no], scale[yes_no] = 0.0, 1.0
    scale[scale == 0] = 1.0
    standard = (x - mean) / scale

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        z = standard @ w
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        value = float(np.sum(rows * (np.logaddexp(0.0, z) - target * z))) + l2 * n * float(
            np.sum(penalty * w * w))
        grad = standard.T @ (rows * (p - target)) + 2 * l2 * n * penalty * w
        return value, grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000})
    w: FloatArray = np.asarray(result.x, dtype=np.float64) / scale
    w[0] -= float(np.dot(w[1:], mean[1:]))
    return w


def probabilities(x: FloatArray, w: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40))), dtype=np.float64)


def fit_gate(rows: Mapping[str, Rows], penalty: Penalty | None = None) -> FloatArray:
    """Weights fitted on every group's rows (with the ``penalty``'s L2 strength, on the
    evidence it keeps). Rows given without the paragraphs that answer (``left_out``) and
    to questions with a word replaced (``perturbed``, each weighing the ``penalty``'s
    share of a real one) are fitted on too, as wrong ones, with the bias then refitted on
    the real rows alone: they teach which evidence tells a wrong short answer, but they
    are not questions people ask, so a probability is the chance that a short answer to a
    real question is right."""
    penalty = penalty or Penalty()
    x = np.vstack([r.x for r in rows.values()])
    right = np.concatenate([r.right for r in rows.values()])
    left_out = np.vstack([r.left_out for r in rows.values()])
    changed = (np.vstack([r.perturbed for r in rows.values()]) if penalty.perturbed > 0
               else _no_rows())
    wrong = np.vstack([left_out, changed])
    weight = np.concatenate([np.ones(len(x) + len(left_out)),
                             np.full(len(changed), penalty.perturbed)])
    weights = fit_weights(np.vstack([x, wrong]),
                          np.concatenate([right, np.zeros(len(wrong), dtype=bool)]),
                          l2=penalty.l2, keep=penalty.keep(), weight=weight)
    if not len(wrong):
        return weights
    z = x @ weights
    target = right.astype(np.float64)
    shift = minimize_scalar(
        lambda b: float(np.sum(np.logaddexp(0.0, z + b) - target * (z + b))),
        bounds=(-20.0, 20.0), method="bounded")
    weights[0] += float(shift.x)
    return weights


def log_loss(p: FloatArray, y: BoolArray) -> float:
    """The mean log loss of probabilities ``p`` of being right, against ``y``: how well
    calibrated and how sharp they are (lower is better)."""
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(np.where(y, np.log(q), np.log(1 - q))))


def reliability(p: FloatArray, y: BoolArray, edges: Sequence[float] = BINS
                ) -> list[dict[str, Any]]:
    """Per bin of probability (``edges``): how many short answers, the mean probability
    given and the share that was right. Calibrated, the two agree."""
    out = []
    for lo, hi in itertools.pairwise(edges):
        inside = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        if inside.any():
            out.append({"bin": f"{lo:g}–{hi:g}", "n": int(inside.sum()),
                        "predicted": round(float(p[inside].mean()), 3),
                        "observed": round(float(y[inside].mean()), 3)})
    return out


def unstable(rows: Mapping[str, Rows], penalty: Penalty) -> frozenset[str]:
    """The evidence whose weight changes sign between the leave-one-group-out fits: what
    it says about one group it does not say about another."""
    weights = np.array([fit_gate({n: r for n, r in rows.items() if n != name}, penalty)
                        for name in rows])
    keep = penalty.keep()
    return frozenset(f for n, f in enumerate(FEATURES) if n > 0 and keep[n]
                     and (weights[:, n] > 1e-9).any() and (weights[:, n] < -1e-9).any())


def choose_penalty(rows: Mapping[str, Rows], choices: Sequence[float] = L2_CHOICES,
                   rounds: int = PRUNING_ROUNDS, perturbed: float = PERTURBED_WEIGHT
                   ) -> tuple[Penalty, dict[float, float]]:
    """The penalty whose gate is best calibrated on groups it was not fitted on: for each
    L2 strength of ``choices``, the evidence whose weight changes sign between folds is
    left out (again, up to ``rounds`` times, as leaving some out moves the others), and
    the leave-one-group-out log loss of the real rows decides (short answers to questions
    with a word replaced weighing ``perturbed``). Also each strength's log loss."""
    y = np.concatenate([r.right for r in rows.values()])
    losses: dict[float, float] = {}
    best: tuple[float, Penalty] | None = None
    for l2 in choices:
        penalty = Penalty(l2, perturbed=perturbed)
        for _ in range(rounds):
            flipping = unstable(rows, penalty)
            if not flipping:
                break
            penalty = replace(penalty, dropped=penalty.dropped | flipping)
        ps = held_out_probabilities(rows, penalty=penalty)
        losses[l2] = round(log_loss(np.concatenate(list(ps.values())), y), 4)
        if best is None or losses[l2] < best[0]:
            best = (losses[l2], penalty)
    if best is None:
        raise QuotebotError("No L2 strength to choose from.")
    return best[1], losses


def choose_weighting(rows: Mapping[str, Rows], shares: Sequence[float] = PERTURBED_WEIGHTS,
                     choices: Sequence[float] = L2_CHOICES
                     ) -> tuple[Penalty, dict[float, dict[float, float]]]:
    """:func:`choose_penalty` for each weight of ``shares`` a short answer to a question
    with a word replaced may have against a real one; the penalty of the lowest held-out
    log loss of the real rows wins. Also each weight's log loss by L2 strength. Groups
    without such rows are fitted without them."""
    if not any(len(r.perturbed) for r in rows.values()):
        shares = (0.0,)
    losses: dict[float, dict[float, float]] = {}
    best: tuple[float, Penalty] | None = None
    for share in shares:
        penalty, losses[share] = choose_penalty(rows, choices, perturbed=share)
        loss = losses[share][penalty.l2]
        if best is None or loss < best[0]:
            best = (loss, penalty)
    if best is None:
        raise QuotebotError("No weight of the questions with a word replaced to choose from.")
    return best[1], losses


def auc(p: FloatArray, y: BoolArray) -> float | None:
    """The chance that a right short answer is given a higher probability than a wrong one
    (ties count half); None without both."""
    n_right = int(y.sum())
    n_wrong = len(y) - n_right
    if not n_right or not n_wrong:
        return None
    higher = (p[y][:, None] > p[~y][None, :]).sum()
    ties = (p[y][:, None] == p[~y][None, :]).sum()
    return float((higher + ties / 2) / (n_right * n_wrong))


def summary(p: FloatArray, y: BoolArray, threshold: float, answerable: int
            ) -> dict[str, Any]:
    shown = p >= threshold
    right = int((shown & y).sum())
    area = auc(p, y)
    return {
        "short_answers": len(y), "right_before_gate": int(y.sum()),
        "shown": int(shown.sum()), "shown_right": right,
        "precision": round(right / shown.sum(), 4) if shown.any() else None,
        # The precision's lower bound at one-sided 95% confidence.
        "precision_low": round(precision_bound(right, int(shown.sum())), 4),
        "precision_before_gate": round(float(y.mean()), 4) if len(y) else None,
        # Of the questions the article answers, how many get a right short answer.
        "recall": round(right / answerable, 4) if answerable else None,
        "recall_before_gate": round(int(y.sum()) / answerable, 4) if answerable else None,
        "auc": round(area, 4) if area is not None else None,
    }


def removed_summary(p: FloatArray, threshold: float, name: str = "removed"
                    ) -> dict[str, Any]:
    """How many short answers given without the passages that answer (``p``, all wrong;
    or those of another ``name``: "perturbed", to questions with a word replaced) would be
    shown at ``threshold``."""
    shown = int((p >= threshold).sum())
    return {name: len(p), f"{name}_shown": shown,
            f"{name}_shown_share": round(shown / len(p), 4) if len(p) else None}


def held_out_probabilities(rows: Mapping[str, Rows],
                           judged: Mapping[str, Rows] | None = None, *,
                           penalty: Penalty | None = None, removed: bool = False,
                           perturbed: bool = False) -> dict[str, FloatArray]:
    """Each group's short answers' probabilities (those of ``judged``, by default
    ``rows``; with ``removed``, its answers given without the passages that answer; with
    ``perturbed``, to its questions with a word replaced) by a gate fitted on the other
    groups' ``rows``."""
    if len(rows) < 2:
        raise QuotebotError("Leave-one-article-out fitting of the gate needs two articles.")
    judged = rows if judged is None else judged
    return {name: probabilities(held.left_out if removed else
                                held.perturbed if perturbed else held.x,
                                fit_gate({n: r for n, r in rows.items() if n != name},
                                         penalty))
            for name, held in judged.items()}


def without_removed(rows: Mapping[str, Rows]) -> dict[str, Rows]:
    """``rows`` without their short answers given without the passages that answer and to
    questions with a word replaced: to fit on the real ones alone, and judge all."""
    return {name: replace(r, left_out=_no_rows(), perturbed=_no_rows(),
                          changes=np.zeros(0, dtype=str))
            for name, r in rows.items()}


def combined(*sets: Mapping[str, Rows]) -> dict[str, Rows]:
    """Per article, its short answers of every set in one (those found with meaning and by
    words alone: one gate judges both)."""
    return {name: Rows(np.vstack([s[name].x for s in sets]),
                       np.concatenate([s[name].right for s in sets]),
                       sum(s[name].answerable for s in sets),
                       np.vstack([s[name].left_out for s in sets]),
                       np.vstack([s[name].perturbed for s in sets]),
                       np.concatenate([s[name].changes for s in sets]))
            for name in sets[0]}


def fit_threshold(p: FloatArray, y: BoolArray, target: float = TARGET_PRECISION,
                  min_shown: int = MIN_SHOWN) -> float:
    """The lowest probability at which at least ``min_shown`` short answers (``p``, right
    or not ``y``) are shown and at least ``target`` of them are right; 1.0 (nothing
    shown) where no threshold reaches it."""
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    shown = np.arange(1, len(p) + 1)
    precision = np.cumsum(y[order]) / shown
    # A threshold shows every answer of its probability: only the last of ties counts.
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True] if len(p) else np.zeros(0, bool)
    ok = np.flatnonzero((shown >= min_shown) & (precision >= target) & last_of_tie)
    return float(ranked[ok[-1]]) if ok.size else 1.0


def held_out(rows: Mapping[str, Rows], threshold: float | None = THRESHOLD,
             target: float = TARGET_PRECISION, judged: Mapping[str, Rows] | None = None,
             penalty: Penalty | None = None) -> dict[str, Any]:
    """Leave-one-article-out: each article's short answers (of ``judged``, by default
    ``rows``) judged by a gate fitted on the other articles' ``rows``, then all articles
    pooled; at ``threshold``, or (None) the one these held-out probabilities give for
    ``target`` (in ``report["threshold"]``)."""
    judged = rows if judged is None else judged
    ps = held_out_probabilities(rows, judged, penalty=penalty)
    pooled = np.concatenate(list(ps.values()))
    ys = np.concatenate([r.right for r in judged.values()])
    if threshold is None:
        threshold = fit_threshold(pooled, ys, target)
    report: dict[str, Any] = {name: summary(ps[name], held.right, threshold, held.answerable)
                              for name, held in judged.items()}
    answerable = sum(r.answerable for r in judged.values())
    report["pooled"] = summary(pooled, ys, threshold, answerable)
    if any(len(r.left_out) for r in judged.values()):
        removed = held_out_probabilities(rows, judged, penalty=penalty, removed=True)
        for name in judged:
            report[name].update(removed_summary(removed[name], threshold))
        report["pooled"].update(removed_summary(np.concatenate(list(removed.values())),
                                                threshold))
    if any(len(r.perturbed) for r in judged.values()):
        changed = held_out_probabilities(rows, judged, penalty=penalty, perturbed=True)
        for name in judged:
            report[name].update(removed_summary(changed[name], threshold, "perturbed"))
        report["pooled"].update(removed_summary(np.concatenate(list(changed.values())),
                                                threshold, "perturbed"))
    report["pooled"]["log_loss"] = round(log_loss(pooled, ys), 4)
    report["pooled"]["reliability"] = reliability(pooled, ys)
    report["threshold"] = round(threshold, 4)
    return report


def expected_threshold(p: FloatArray, target: float = TARGET_PRECISION) -> float:
    """The lowest probability at which the short answers shown (those of probabilities
    ``p`` at or above it) are expected, by their own probabilities, to be right ``target``
    of the time; 1.0 where none are. Read from calibrated probabilities, not from which
    answers were right: a threshold for the precision of what is shown, not for each
    answer shown."""
    ranked = np.sort(p)[::-1]
    expected = np.cumsum(ranked) / np.arange(1, len(ranked) + 1)
    ok = np.flatnonzero(expected >= target)
    return float(ranked[ok[-1]]) if ok.size else 1.0


def precision_bound(right: int, shown: int, z: float = CONFIDENCE_Z) -> float:
    """The lower Wilson bound, at the one-sided confidence of normal quantile ``z``, of
    the precision of ``shown`` short answers of which ``right`` were right (0 for none)."""
    if shown <= 0:
        return 0.0
    share, z2 = right / shown, z * z
    centre = share + z2 / (2 * shown)
    spread = z * np.sqrt(share * (1 - share) / shown + z2 / (4 * shown * shown))
    return float((centre - spread) / (1 + z2 / shown))


@dataclass(frozen=True, slots=True)
class Nested:
    """For one group, what a gate fitted without it gives: the probabilities of the other
    groups' short answers, each by a gate fitted without its own group as well (``inner``,
    right or not ``inner_right``: what its threshold is read from), and of its own short
    answers (``held``), of those given without the passages that answer (``removed``) and
    of those given to its questions with a word replaced (``perturbed``)."""

    inner: FloatArray
    inner_right: BoolArray
    held: FloatArray
    removed: FloatArray
    perturbed: FloatArray = field(default_factory=lambda: np.zeros(0))


def nested_probabilities(rows: Mapping[str, Rows], judged: Mapping[str, Rows] | None = None,
                         penalty: Penalty | None = None) -> dict[str, Nested]:
    """Per group of ``judged`` (by default ``rows``), the probabilities a gate fitted
    without it gives (:class:`Nested`), fitted on ``rows``."""
    if len(rows) < 3:
        raise QuotebotError("Fitting the gate's threshold held out needs three groups.")
    judged = rows if judged is None else judged
    out: dict[str, Nested] = {}
    for name, held in judged.items():
        others = {n: r for n, r in rows.items() if n != name}
        rest = {n: r for n, r in judged.items() if n != name}
        inner = held_out_probabilities(others, rest, penalty=penalty)
        weights = fit_gate(others, penalty)
        out[name] = Nested(np.concatenate(list(inner.values())),
                           np.concatenate([r.right for r in rest.values()]),
                           probabilities(held.x, weights), probabilities(held.left_out, weights),
                           probabilities(held.perturbed, weights))
    return out


def nested_report(nested: Mapping[str, Nested], judged: Mapping[str, Rows],
                  target: float = TARGET_PRECISION) -> dict[str, Any]:
    """Each group's short answers (``judged``) judged by weights and a threshold fitted on
    the other groups only (``nested``): the threshold is :func:`expected_threshold` of
    the other groups' short answers for ``target``. Pooled after: what the gate and its
    threshold are worth on a group none of them was fitted on."""
    report: dict[str, Any] = {}
    shown_p: list[FloatArray] = []
    removed_shown: list[FloatArray] = []
    perturbed_shown: list[FloatArray] = []
    changes: list[StrArray] = []
    ys: list[BoolArray] = []
    for name, held in judged.items():
        found = nested[name]
        threshold = expected_threshold(found.inner, target)
        report[name] = {**summary(found.held, held.right, threshold, held.answerable),
                        "threshold": round(threshold, 4)}
        # Pooled as shown or not: each group at its own threshold.
        shown_p.append((found.held >= threshold).astype(np.float64))
        removed_shown.append((found.removed >= threshold).astype(np.float64))
        perturbed_shown.append((found.perturbed >= threshold).astype(np.float64))
        changes.append(held.changes if len(held.changes) == len(found.perturbed)
                       else np.full(len(found.perturbed), "word"))
        ys.append(held.right)
        if len(found.removed):
            report[name].update(removed_summary(found.removed, threshold))
        if len(found.perturbed):
            report[name].update(removed_summary(found.perturbed, threshold, "perturbed"))
    answerable = sum(r.answerable for r in judged.values())
    report["pooled"] = summary(np.concatenate(shown_p), np.concatenate(ys), 1.0, answerable)
    report["pooled"]["auc"] = None
    if any(len(r.left_out) for r in judged.values()):
        report["pooled"].update(removed_summary(np.concatenate(removed_shown), 1.0))
    if any(len(r.perturbed) for r in judged.values()):
        shown = np.concatenate(perturbed_shown)
        report["pooled"].update(removed_summary(shown, 1.0, "perturbed"))
        report["pooled"]["perturbed_by_change"] = by_change(shown, np.concatenate(changes))
    return report


def by_change(shown: FloatArray, changes: StrArray) -> dict[str, dict[str, Any]]:
    """Per kind of change (``changes``), how many short answers to questions so changed
    were given and how many of them were ``shown`` (1) or not (0)."""
    out: dict[str, dict[str, Any]] = {}
    for change in sorted(set(changes.tolist())):
        inside = shown[changes == change]
        out[change] = {"given": len(inside), "shown": int(inside.sum()),
                       "shown_share": round(float(inside.mean()), 4)}
    return out


def nested_held_out(rows: Mapping[str, Rows], judged: Mapping[str, Rows] | None = None,
                    target: float = TARGET_PRECISION, penalty: Penalty | None = None
                    ) -> dict[str, Any]:
    """:func:`nested_report` of ``judged`` (by default ``rows``), the gates fitted on
    ``rows``."""
    judged = rows if judged is None else judged
    return nested_report(nested_probabilities(rows, judged, penalty), judged, target)


def choose_target(nested: Sequence[tuple[Mapping[str, Nested], Mapping[str, Rows]]],
                  targets: Sequence[float] = EXPECTED_TARGETS,
                  precision: float = TARGET_PRECISION) -> tuple[float, dict[float, list[Any]]]:
    """The lowest of ``targets`` at which thresholds fitted without each group
    (:func:`nested_report`, for each engine's short answers of ``nested``) show short
    answers right at least ``precision`` of the time on the groups they were not fitted
    on; the highest where none does. Held out, probabilities run high on groups unlike
    those fitted on, so a threshold must ask more of them than the precision wanted. Also
    each target's pooled reports."""
    reports = {t: [nested_report(n, judged, t)["pooled"] for n, judged in nested]
               for t in targets}
    for t in targets:
        if all(r["precision"] is not None and r["precision"] >= precision
               for r in reports[t]):
            return t, reports
    return targets[-1], reports


def gate_values(weights: FloatArray, threshold: float = THRESHOLD) -> dict[str, Any]:
    """The ``[answer]`` values of fitted weights."""
    return {"weights": {name: round(float(w), 4) for name, w in zip(FEATURES, weights,
                                                                     strict=True)},
            "threshold": round(threshold, 4)}


def write_gate(path: Path, weights: FloatArray, thresholds: tuple[float, float],
               precisions: tuple[float | None, float | None], source: str,
               target: float = TARGET_PRECISION) -> None:
    """Put the gate's weights, its thresholds (with vectors, by words alone, each expecting
    ``target`` of its short answers right) and their held-out precisions into the
    ``[answer]`` table of the weights file at ``path`` (its comments stay)."""
    text = path.read_text(encoding="utf-8")
    values = gate_values(weights)
    table = ", ".join(f"{name} = {value:g}" for name, value in values["weights"].items())
    how = (f"{source}: the lowest probability whose short answers, given their probabilities "
           f"held out, are expected right {target:g} of the time, the lowest such share "
           f"whose thresholds fitted without each group show short answers right "
           f"{TARGET_PRECISION:g} of the time on it")
    lines = {"weights": f'weights = {{ value = {{ {table} }}, source = "{source}" }}'}
    for prefix, threshold, precision in (("", thresholds[0], precisions[0]),
                                         ("words_", thresholds[1], precisions[1])):
        lines[f"{prefix}threshold"] = (f'{prefix}threshold = {{ value = {round(threshold, 4)}, '
                                       f'source = "{how}" }}')
        lines[f"{prefix}precision"] = (f'{prefix}precision = {{ value = {precision or 0.0}, '
                                       f'source = "{source}: precision of shown short answers, '
                                       f'weights and threshold fitted without the group" }}')
    header = re.compile(r"^\[answer\]$", re.M).search(text)
    if header is None:
        raise QuotebotError("weights file: no [answer] table")
    end = text.find("\n[", header.end())
    end = len(text) if end < 0 else end + 1
    body = text[header.start():end]
    for name, line in lines.items():
        body, found = re.subn(rf"^{name} = .*$", line.replace("\\", "\\\\"), body, count=1,
                              flags=re.M)
        if not found:
            raise QuotebotError(f"weights file: no {name} in [answer]")
    path.write_text(text[:header.start()] + body + text[end:], encoding="utf-8")
