"""Fitting quotebot's weights and thresholds on articles with questions, and scoring them on
articles they were not fitted on.

Each article (an article file and its SQuAD or quotebot questions) is examined once: every
question goes through the pipeline up to ranking (plan, BM25 candidates, features,
cosines, whether each candidate holds the kind of answer asked for), and each candidate is
labelled by whether its sentence holds a gold answer. Fitting works on those arrays:

- the semantic scorer's weights (``[semantic]``) by a listwise logistic model: a softmax
  over each answerable question's candidates, maximising the probability of those that
  hold a gold answer;
- the decision's thresholds (``[decision]``) by coordinate ascent over a small grid,
  maximising the share of answerable questions answered plus the share of unanswerable
  ones declined, with declining allowed to cost at most :data:`FIT_BUDGET` of each
  article's answerable questions (so that held out it stays under
  :data:`DECLINE_BUDGET`). The unanswerable questions are the articles' own (SQuAD 2.0's
  ``is_impossible``) and, for every answerable question, the same question asked with
  the paragraphs that hold its answer left out: a question the article only seems to
  answer, on every article, whether or not it comes with unanswerable questions.

:func:`held_out` runs leave-one-article-out: for each article, fit on the others and
answer the held-out article's questions through the engine with those numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from quotebot.decide import Evidence, decide
from quotebot.engine import QuoteEngine, _AnswerSpans
from quotebot.errors import QuotebotError
from quotebot.evaluate import Case, Conversation, evaluate, load_cases
from quotebot.features import Features, compute_features
from quotebot.plan import QueryPlan, plan_question
from quotebot.question import parse_question
from quotebot.rerank import NUMBER_KINDS, LexicalScorer
from quotebot.retrieve import retrieve
from quotebot.tuning import Decision, Semantic, Tuning

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Declining may cost at most this share of an article's answerable questions, held out.
DECLINE_BUDGET = 0.05
#: What the fit lets declining cost on each article it is fitted on: thresholds decline
#: more of an unseen article's answerable questions than of those they were fitted on, so
#: the fit keeps a margin under :data:`DECLINE_BUDGET`.
FIT_BUDGET = 0.03
#: L2 penalty on the semantic weights, per question (keeps the softmax from sharpening on
#: questions it already ranks right).
L2 = 1e-3
#: The semantic weights, in the order of the features (see :func:`ranking_features`).
SEMANTIC_WEIGHTS = tuple(f.name for f in fields(Semantic))
#: The grid each decision threshold is searched over.
GRIDS: dict[str, tuple[float, ...]] = {
    "min_coverage": tuple(np.round(np.arange(0.0, 0.81, 0.05), 2)),
    "min_coverage_close": tuple(np.round(np.arange(0.0, 0.81, 0.05), 2)),
    "close_similarity": tuple(np.round(np.arange(0.2, 0.91, 0.05), 2)),
    "min_similarity": tuple(np.round(np.arange(0.0, 0.61, 0.05), 2)),
    "words_alone_coverage": tuple(np.round(np.arange(0.0, 1.01, 0.05), 2)),
    "min_coverage_untyped": tuple(np.round(np.arange(0.0, 1.01, 0.05), 2)),
    "min_coverage_unfocused": tuple(np.round(np.arange(0.0, 1.01, 0.05), 2)),
}
#: The thresholds of answering by words alone, fitted on words-only rankings.
WORDS_GRIDS: dict[str, tuple[float, ...]] = {
    "min_coverage_words": tuple(np.round(np.arange(0.0, 0.81, 0.05), 2)),
}
#: Rounds of coordinate ascent over the thresholds.
ROUNDS = 3


class FitError(QuotebotError):
    code = "fit_error"


# -- articles --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    """An article file and the questions about it."""

    name: str
    corpus: Path
    questions: Path


def find_articles(paths: Sequence[Path]) -> list[Article]:
    """The articles in ``paths``: a folder holding ``questions.json`` and one article
    (``.txt`` or ``.md``), a folder of such folders, or a question file with its article
    beside it."""
    found: list[Article] = []
    for path in paths:
        if path.is_file():
            found.append(_article(path.parent, path))
        elif (path / "questions.json").is_file():
            found.append(_article(path, path / "questions.json"))
        elif path.is_dir():
            inner = sorted(p for p in path.iterdir() if (p / "questions.json").is_file())
            if not inner:
                raise FitError(f"{str(path)!r} holds no questions.json, nor folders that do.")
            found.extend(_article(p, p / "questions.json") for p in inner)
        else:
            raise FitError(f"{str(path)!r} does not exist.")
    names = [a.name for a in found]
    if len(set(names)) != len(names):
        raise FitError(f"The same article is given twice: {sorted(names)}.")
    return found


def _article(folder: Path, questions: Path) -> Article:
    texts = sorted(p for p in folder.iterdir()
                   if p.suffix in (".txt", ".md") and p.name.lower() != "readme.md")
    if len(texts) != 1:
        raise FitError(f"{str(folder)!r} should hold one article (.txt or .md) beside "
                       f"{questions.name}; it holds {len(texts)}.")
    return Article(texts[0].stem, texts[0], questions)


# -- examining an article's questions ------------------------------------------------------


@dataclass(slots=True)
class Examined:
    """One question through the pipeline up to ranking."""

    case: Case
    plan: QueryPlan
    features: Features | None
    spans: _AnswerSpans | None
    #: The lexical score with the answer-type bonus where a candidate holds the answer,
    #: relative to the best (the semantic scorer's first feature).
    lexical: FloatArray
    #: Whether each candidate holds the kind of answer asked for.
    has_answer: BoolArray
    #: Whether each candidate's sentence holds a gold answer.
    label: BoolArray
    #: Candidates outside every paragraph that holds a gold answer (the question asked of
    #: the article without them is one it only seems to answer).
    outside: BoolArray
    numeric: bool

    def __len__(self) -> int:
        return 0 if self.features is None else len(self.features)


@dataclass(slots=True)
class ArticleData:
    article: Article
    engine: QuoteEngine
    cases: list[Case]
    conversations: list[Conversation]
    questions: list[Examined]

    def evidence(self, q: Examined, i: int) -> Evidence:
        """The decision's evidence for candidate ``i`` of ``q`` (remembered)."""
        assert q.spans is not None
        return q.spans.evidence(i)


def open_article(article: Article, *, index_dir: Path | None = None,
                 tuning: Tuning | None = None) -> QuoteEngine:
    """An engine over ``article`` with vectors (kept beside its index, so that an article
    is embedded once)."""
    if index_dir is None:
        engine = QuoteEngine.open(article.corpus, semantic="on")
    else:
        engine = QuoteEngine.open(article.corpus, index_dir=index_dir, semantic="on")
    if tuning is not None:
        engine = with_tuning(engine, tuning)
    return engine


def with_tuning(engine: QuoteEngine, tuning: Tuning) -> QuoteEngine:
    """The same index and vectors answered with other numbers."""
    other = QuoteEngine(engine.index, tuning=tuning)
    other._meaning = engine._meaning
    return other


def examine(article: Article, engine: QuoteEngine) -> ArticleData:
    """Every question of ``article`` through the pipeline up to ranking, labelled."""
    cases, conversations, _ = load_cases(article.questions)
    meaning = engine._meaning
    if meaning is None:
        raise FitError("Fitting needs the sentence model (semantic reranking).")
    vectors = meaning.encoder.encode([c.question for c in cases]) if cases else np.zeros(
        (0, 0), dtype=np.float32)
    paragraphs = paragraph_texts(engine)
    tuning = engine.tuning
    lexical = LexicalScorer(tuning.lexical)
    out = []
    for case, vector in zip(cases, vectors, strict=True):
        plan = plan_question(parse_question(case.question), engine.index, tuning)
        candidates = retrieve(plan, engine.index, tuning.retrieval)
        empty = np.zeros(0, dtype=bool)
        if not len(candidates):
            out.append(Examined(case, plan, None, None, np.zeros(0), empty, empty, empty,
                                False))
            continue
        features = compute_features(plan, engine.index, candidates, tuning.lexical)
        features.cosines = meaning.vectors.similarities(  # type: ignore[attr-defined]
            vector, features.sids)
        spans = _AnswerSpans(plan, engine, features)
        has = np.fromiter((spans.has_answer(i) for i in range(len(features))), dtype=bool,
                          count=len(features))
        base, bonus = lexical.terms(plan, features, spans.has_answer)
        total = base + bonus * has
        top = float(total.max()) if total.size else 0.0
        golds = [g.casefold() for g in case.expect]
        texts = [engine.index.sentence(int(s)).text.casefold() for s in features.sids]
        label = np.array([any(g in t for g in golds) for t in texts], dtype=bool)
        pids = engine.index.paragraph_ids[features.sids]
        holding = {int(p) for p in set(pids.tolist()) if any(g in paragraphs[int(p)]
                                                              for g in golds)}
        outside = np.array([int(p) not in holding for p in pids.tolist()], dtype=bool)
        out.append(Examined(case, plan, features, spans, total / (top or 1.0), has, label,
                            outside, plan.question.kind in NUMBER_KINDS))
    return ArticleData(article, engine, cases, conversations, out)


def paragraph_texts(engine: QuoteEngine, *, folded: bool = True) -> list[str]:
    """Every paragraph's text, case-folded (unless not ``folded``), by paragraph id."""
    index = engine.index
    starts = index.paragraph_starts
    texts = []
    for p in range(index.n_paragraphs):
        first, last = int(starts[p]), int(starts[p + 1]) - 1
        doc = index.texts(int(index.doc_idx[first]))
        text = doc[int(index.start[first]):int(index.end[last])]
        texts.append(text.casefold() if folded else text)
    return texts


# -- ranking ---------------------------------------------------------------------------------


def ranking_features(q: Examined) -> FloatArray:
    """(candidates × weights) in the order of :data:`SEMANTIC_WEIGHTS`: the lexical score
    relative to the best, the answer type (a number or a date; a name or other span), and
    the cosines with the sentence, its window and its paragraph."""
    assert q.features is not None and q.features.cosines is not None
    has = q.has_answer.astype(np.float64)
    sentence, window, paragraph = (np.asarray(c, dtype=np.float64) for c in q.features.cosines)
    return np.column_stack([q.lexical, has * q.numeric, has * (not q.numeric), sentence,
                            window, paragraph])


def best_candidate(q: Examined, weights: FloatArray | None,
                   allowed: BoolArray | None = None) -> int | None:
    """The candidate the semantic scorer puts first (``weights`` None: the lexical scorer;
    ties to the earlier sentence), among ``allowed`` ones."""
    if not len(q):
        return None
    assert q.features is not None
    scores = ranking_features(q) @ weights if weights is not None else q.lexical
    sids = q.features.sids
    if allowed is not None:
        if not allowed.any():
            return None
        scores = np.where(allowed, scores, -np.inf)
    return int(np.lexsort((sids, -scores))[0])


def fit_ranking(questions: Sequence[Examined], *, l2: float = L2) -> FloatArray:
    """The semantic weights maximising the softmax probability of the candidates that hold
    a gold answer, over every answerable question that has one."""
    xs, positives = [], []
    for q in questions:
        if q.case.answerable and len(q) and q.label.any():
            xs.append(ranking_features(q))
            positives.append(q.label)
    if not xs:
        raise FitError("No answerable question has a candidate holding its answer.")
    return fit_listwise(xs, positives, l2=l2)


def fit_listwise(xs: Sequence[FloatArray], positives: Sequence[BoolArray], *,
                 l2: float = L2) -> FloatArray:
    """Weights ``w`` minimising, over lists, −log Σ_pos softmax(X w) + l2·n·|w|²."""
    loss = _listwise_loss(xs, positives, l2)
    result = minimize(loss, np.zeros(xs[0].shape[1]), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500, "gtol": 1e-8})
    return np.asarray(result.x, dtype=np.float64)


def listwise_log_loss(xs: Sequence[FloatArray], positives: Sequence[BoolArray],
                      w: FloatArray) -> float:
    """−log Σ_pos softmax(X w), summed over the lists (what :func:`fit_listwise`
    minimises, without the penalty)."""
    return _listwise_loss(xs, positives, 0.0)(w)[0]


def _listwise_loss(xs: Sequence[FloatArray], positives: Sequence[BoolArray], l2: float
                   ) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    lengths = np.array([x.shape[0] for x in xs])
    stacked = np.vstack(xs)
    pos = np.concatenate(positives).astype(np.float64)
    group = np.repeat(np.arange(len(xs)), lengths)
    count = len(xs)

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        scores = stacked @ w
        top = np.full(count, -np.inf)
        np.maximum.at(top, group, scores)
        shifted = np.exp(scores - top[group])
        total = np.bincount(group, shifted, minlength=count)
        good = np.bincount(group, shifted * pos, minlength=count)
        value = float(np.sum(np.log(total) - np.log(good))) + l2 * count * float(w @ w)
        p_all = shifted / total[group]
        p_pos = shifted * pos / good[group]
        grad = stacked.T @ (p_all - p_pos) + 2 * l2 * count * w
        return value, grad

    return loss


# -- decisions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    """One question's best passage, as the decision sees it."""

    plan: QueryPlan
    evidence: Evidence | None
    #: Should the question be answered (False: the article does not say).
    answerable: bool
    #: From the article's own unanswerable questions (not made by leaving paragraphs out).
    real: bool
    #: The article it comes from.
    article: str = ""


def trials(data: Sequence[ArticleData], weights: FloatArray | None) -> list[Trial]:
    """Every question's best passage under ``weights`` (None: by words alone, as without
    vectors), and every answerable question's best passage outside the paragraphs that
    answer it."""
    out = []

    def seen(article: ArticleData, q: Examined, i: int) -> Evidence:
        evidence = article.evidence(q, i)
        return evidence if weights is not None else replace(evidence, similarity=None)

    for article in data:
        for q in article.questions:
            i = best_candidate(q, weights)
            evidence = None if i is None else seen(article, q, i)
            name = article.article.name
            out.append(Trial(q.plan, evidence, q.case.answerable, True, name))
            if q.case.answerable and len(q) and q.label.any():
                j = best_candidate(q, weights, q.outside)
                if j is not None:
                    out.append(Trial(q.plan, seen(article, q, j), False, False, name))
    return out


@dataclass(frozen=True, slots=True)
class Score:
    #: Share of answerable questions answered, over all articles and in the worst article.
    answered: float
    worst_answered: float
    declined_real: float | None
    declined_left_out: float | None

    @property
    def objective(self) -> float:
        return self.answered + (self.declined_real or 0.0) + (self.declined_left_out or 0.0)


def score_thresholds(items: Sequence[Trial], thresholds: Decision) -> Score:
    answerable = real = left_out = answered = declined_real = declined_left_out = 0
    per_article: dict[str, list[int]] = {}
    for t in items:
        verdict = decide(t.plan, t.evidence, thresholds)
        if t.answerable:
            answerable += 1
            answered += verdict.answered
            counts = per_article.setdefault(t.article, [0, 0])
            counts[0] += verdict.answered
            counts[1] += 1
        elif t.real:
            real += 1
            declined_real += not verdict.answered
        else:
            left_out += 1
            declined_left_out += not verdict.answered
    worst = min((a / n for a, n in per_article.values()), default=1.0)
    return Score(answered / max(answerable, 1), worst, declined_real / real if real else None,
                 declined_left_out / left_out if left_out else None)


def fit_thresholds(items: Sequence[Trial], start: Decision, *,
                   budget: float = FIT_BUDGET, grids: dict[str, tuple[float, ...]]
                   | None = None, rounds: int = ROUNDS) -> Decision:
    """Coordinate ascent over ``grids``: each threshold in turn takes the grid value that
    maximises answered + declined while declining costs at most ``budget`` of the
    answerable questions of every article (ties: the value closest to the current one)."""
    grids = grids or GRIDS
    current = start
    best = score_thresholds(items, current)
    if 1.0 - best.worst_answered > budget:  # start inside the budget where it can
        current = _permissive(current, grids)
        best = score_thresholds(items, current)
    for _ in range(rounds):
        changed = False
        for name, grid in grids.items():
            now = getattr(current, name)
            ranked = sorted(grid, key=lambda v: (abs(v - now), v))
            for value in ranked:
                trial = _with(current, name, value)
                score = score_thresholds(items, trial)
                if 1.0 - score.worst_answered > budget + 1e-12:
                    continue
                if score.objective > best.objective + 1e-12:
                    best, current, changed = score, trial, True
        if not changed:
            break
    return current


def _with(decision: Decision, name: str, value: float) -> Decision:
    changed: dict[str, Any] = {name: float(value)}
    return replace(decision, **changed)


def _permissive(decision: Decision, grids: dict[str, tuple[float, ...]]) -> Decision:
    """Thresholds that decline the least: every coverage and similarity floor at its
    lowest (every passage "close" in meaning)."""
    for name, grid in grids.items():
        decision = _with(decision, name, min(grid))
    return decision


# -- fitting and scoring -----------------------------------------------------------------------


def fit(data: Sequence[ArticleData], base: Tuning, *, budget: float = FIT_BUDGET
        ) -> Tuning:
    """Semantic weights, then decision thresholds, fitted on ``data``."""
    questions = [q for article in data for q in article.questions]
    weights = fit_ranking(questions)
    thresholds = fit_thresholds(trials(data, weights), base.decision, budget=budget)
    thresholds = fit_thresholds(trials(data, None), thresholds, budget=budget,
                                grids=WORDS_GRIDS)
    values: dict[str, float] = {f"semantic.{name}": round(float(w), 3)
                                for name, w in zip(SEMANTIC_WEIGHTS, weights, strict=True)}
    values.update({f"decision.{name}": float(getattr(thresholds, name))
                   for name in (*GRIDS, *WORDS_GRIDS)})
    return base.with_values(values)


Progress = Callable[[str], None]


def held_out(data: Sequence[ArticleData], base: Tuning, *, k: int = 3,
             progress: Progress | None = None, words_too: bool = False) -> dict[str, Any]:
    """Leave-one-article-out: for each article, fit on the others and answer its questions
    through the engine with those numbers. Returns per-article reports, the pooled figures
    and the numbers each fold fitted; with ``words_too``, under "words" the same answered
    by words alone (as without vectors)."""
    if len(data) < 2:
        raise FitError("Leave-one-article-out needs at least two articles.")
    articles: dict[str, Any] = {}
    words: dict[str, Any] = {}
    for held in data:
        if progress:
            progress(f"fitting without {held.article.name}")
        others = [d for d in data if d is not held]
        tuning = fit(others, base)
        engine = with_tuning(held.engine, tuning)
        if progress:
            progress(f"answering {held.article.name}'s {len(held.cases)} questions")
        report = evaluate(engine, held.cases, held.conversations, k=k)
        report["fitted"] = fitted_values(tuning)
        report["fitted_on"] = [d.article.name for d in others]
        articles[held.article.name] = report
        if words_too:
            alone = QuoteEngine(held.engine.index, tuning=tuning)  # no vectors
            words[held.article.name] = evaluate(alone, held.cases, held.conversations, k=k)
    out: dict[str, Any] = {"articles": articles, "pooled": pooled(articles.values())}
    if words_too:
        out["words"] = {"articles": words, "pooled": pooled(words.values())}
    return out


def fitted_values(tuning: Tuning) -> dict[str, float]:
    out = {f"semantic.{n}": float(getattr(tuning.semantic, n)) for n in SEMANTIC_WEIGHTS}
    out.update({f"decision.{n}": float(getattr(tuning.decision, n))
                for n in (*GRIDS, *WORDS_GRIDS)})
    return out


def pooled(reports: Any) -> dict[str, Any]:
    """Figures over every question of several reports, as if one question file."""
    totals: dict[str, float] = {}
    counts = {"questions": 0, "answerable": 0, "unanswerable": 0, "scored": 0}

    def add(key: str, rate: float | None, n: int) -> None:
        if rate is not None:
            totals[key] = totals.get(key, 0.0) + rate * n

    for report in reports:
        o = report["overall"]
        n, u, m = o["answerable"], o["unanswerable"], o.get("short_answers_scored", 0)
        counts["questions"] += o["questions"]
        counts["answerable"] += n
        counts["unanswerable"] += u
        counts["scored"] += m
        add("top1", o["top1"], n)
        add("top3", o["top3"], n)
        add("answered", o["answerable_answered"], n)
        add("declined", o["unanswerable_declined"], u)
        add("f1", o.get("f1"), m)
        add("em", o.get("exact_match"), m)
    n, u, m = counts["answerable"], counts["unanswerable"], counts["scored"]
    return {
        "questions": counts["questions"], "answerable": n, "unanswerable": u,
        "top1": _ratio(totals.get("top1", 0.0), n), "top3": _ratio(totals.get("top3", 0.0), n),
        "f1": _ratio(totals.get("f1", 0.0), m),
        "exact_match": _ratio(totals.get("em", 0.0), m),
        "answerable_answered": _ratio(totals.get("answered", 0.0), n),
        "unanswerable_declined": _ratio(totals.get("declined", 0.0), u),
    }


def _ratio(total: float, n: int) -> float | None:
    return round(total / n, 4) if n else None


# -- writing the weights file ---------------------------------------------------------------


def write_weights(path: Path, tuning: Tuning, provenance: dict[str, Any]) -> None:
    """Put the fitted numbers of ``tuning`` into the weights file at ``path``, each with its
    source, and the fit's provenance into its ``[fit]`` table; the rest of the file (the
    hand-set numbers and every comment) stays as it is."""
    text = path.read_text(encoding="utf-8")
    source = f"fitted by {provenance['command']} ({provenance['date']}), see [fit]"
    for dotted, value in fitted_values(tuning).items():
        section, _, name = dotted.partition(".")
        text = set_value(text, section, name, value, source)
    text = _set_fit_table(text, provenance)
    path.write_text(text, encoding="utf-8")


def write_figures(path: Path, provenance: dict[str, Any]) -> None:
    """Put a fit's provenance and held-out figures into the ``[fit]`` table of the weights
    file at ``path``, leaving every value as it is (the figures of today's code and gate,
    the values of the fit ``provenance`` names)."""
    text = path.read_text(encoding="utf-8")
    path.write_text(_set_fit_table(text, provenance), encoding="utf-8")


def set_value(text: str, section: str, name: str, value: float, source: str) -> str:
    """``text`` with ``name`` of ``[section]`` set to ``value`` (an int stays one, a
    count) and ``source``."""
    header = re.compile(rf"^\[{section}\]$", re.M).search(text)
    if header is None:
        raise FitError(f"weights file: no [{section}] table")
    start = header.start()
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    line = re.compile(rf"^{re.escape(name)} = \{{.*\}}$", re.M)
    if not line.search(body):
        raise FitError(f"weights file: no {name} in [{section}]")
    if isinstance(value, int):
        shown = str(value)
    else:
        shown = f"{value:g}" if value != int(value) or "." in f"{value:g}" else f"{value:.1f}"
    body = line.sub(f'{name} = {{ value = {shown}, source = "{source}" }}', body, count=1)
    return text[:start] + body + text[end:]


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _set_fit_table(text: str, provenance: dict[str, Any]) -> str:
    header = re.compile(r"^\[fit\]$", re.M).search(text)
    if header is None:
        raise FitError("weights file: no [fit] table")
    start = header.start()
    following = re.compile(r"\n\[(?!fit[.\]])").search(text, start + 1)
    end = following.start() if following else len(text)
    lines = ["[fit]"]
    for key, value in provenance.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in
                                                     value.values()):
            continue
        lines.append(f"{key} = {_toml(value)}")
    tables = [(k, v) for k, v in provenance.items()
              if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values())]
    body = "\n".join(lines) + "\n"
    for key, value in tables:  # each article's held-out figures, a table each
        for sub, row in value.items():
            body += f"\n[fit.{key}.{_key(sub)}]\n"
            body += "".join(f"{_key(k)} = {_toml(v)}\n" for k, v in row.items()
                            if v is not None)
    return text[:start] + body + "\n" + text[end:].lstrip("\n")


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml(name)
