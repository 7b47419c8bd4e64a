"""The fitting behind benchmarks/fit_weights.py, on synthetic data whose answer is known."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from quotebot.decide import Evidence
from quotebot.engine import QuoteEngine
from quotebot.fitting import (
    Trial,
    find_articles,
    fit_listwise,
    fit_thresholds,
    score_thresholds,
    write_weights,
)
from quotebot.fitting_candidates import Hits, choose_count, held_out_counts, write_count
from quotebot.models import Document
from quotebot.plan import QueryPlan, plan_question
from quotebot.question import parse_question
from quotebot.store import build_index
from quotebot.tuning import default_tuning, load_tuning

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "quotebot" / "data" / "weights.toml"


@pytest.mark.slow
def test_the_listwise_model_recovers_a_known_weighting() -> None:
    """Lists of candidates whose right one is drawn from a softmax of known weights: the
    fit finds those weights again."""
    rng = np.random.default_rng(7)
    true = np.array([3.0, -1.5, 0.0, 2.0])
    xs, positives = [], []
    for _ in range(3000):
        x = rng.normal(size=(rng.integers(5, 30), true.size))
        p = np.exp(x @ true)
        p /= p.sum()
        label = np.zeros(x.shape[0], dtype=bool)
        label[rng.choice(x.shape[0], p=p)] = True
        xs.append(x)
        positives.append(label)
    fitted = fit_listwise(xs, positives, l2=0.0)
    assert np.allclose(fitted, true, atol=0.25), fitted
    # A penalty shrinks the weights without turning them.
    shrunk = fit_listwise(xs, positives, l2=0.05)
    assert np.linalg.norm(shrunk) < np.linalg.norm(fitted)
    assert shrunk @ true / (np.linalg.norm(shrunk) * np.linalg.norm(true)) > 0.98


@pytest.fixture()
def plan() -> QueryPlan:
    index = build_index([Document("a", "A", "The satellite was launched in 1998.\n")])
    return plan_question(parse_question("When was the satellite launched?"), index,
                         default_tuning())


@pytest.mark.slow
def test_thresholds_decline_what_they_can_within_the_budget(plan: QueryPlan) -> None:
    """Answerable questions' best passages cover 40–100 % of them, unanswerable ones'
    0–60 %: the coverage floor goes as high as declining at most 3 % of the answerable
    questions allows, and no higher."""
    rng = np.random.default_rng(3)
    n = len(plan.concepts)
    trials = [Trial(plan, Evidence(float(c), [1.0] * n), True, True, "a")
              for c in rng.uniform(0.4, 1.0, 400)]
    trials += [Trial(plan, Evidence(float(c), [1.0] * n), False, True, "a")
               for c in rng.uniform(0.0, 0.6, 400)]
    start = default_tuning().decision
    # Passages without vectors (similarity None): the words-only floor decides.
    grids = {"min_coverage_words": tuple(np.round(np.arange(0.0, 1.0, 0.01), 2))}
    fitted = fit_thresholds(trials, start, budget=0.03, grids=grids)
    score = score_thresholds(trials, fitted)
    assert score.answered >= 0.97
    assert 0.40 <= fitted.min_coverage_words <= 0.43
    assert score.declined_real is not None and score.declined_real > 0.6
    looser = fit_thresholds(trials, start, budget=0.10, grids=grids)
    assert looser.min_coverage_words > fitted.min_coverage_words


def test_the_budget_holds_for_every_article_not_only_on_average(plan: QueryPlan) -> None:
    """One article whose answerable questions are all weakly covered keeps the floor down,
    however many well-covered articles there are."""
    n = len(plan.concepts)
    strong = [Trial(plan, Evidence(0.9, [1.0] * n), True, True, "strong")] * 200
    weak = [Trial(plan, Evidence(0.3, [1.0] * n), True, True, "weak")] * 10
    negatives = [Trial(plan, Evidence(0.2, [1.0] * n), False, True, "strong")] * 100
    grids = {"min_coverage_words": (0.0, 0.25, 0.5)}
    fitted = fit_thresholds(strong + weak + negatives, default_tuning().decision,
                            budget=0.05, grids=grids)
    assert fitted.min_coverage_words == 0.25


def test_fitted_numbers_are_written_with_their_provenance(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    shutil.copy(WEIGHTS, path)
    before = path.read_text(encoding="utf-8")
    tuning = default_tuning().with_values({"semantic.lexical": 1.25,
                                           "decision.min_coverage": 0.45})
    write_weights(path, tuning, {
        "command": "python benchmarks/fit_weights.py --write", "data": ["a", "b"],
        "folds": "leave-one-article-out", "date": "2026-01-02",
        "held_out": {"a": {"top1": 0.8, "questions": 10}, "pooled": {"top1": 0.7}}})
    written = load_tuning(path)
    assert written.semantic.lexical == 1.25
    assert written.decision.min_coverage == 0.45
    assert written.lexical == default_tuning().lexical  # hand-set numbers untouched
    assert written.fit["date"] == "2026-01-02"
    assert written.fit["held_out"]["a"] == {"top1": 0.8, "questions": 10}
    text = path.read_text(encoding="utf-8")
    assert text.count("[fit]") == before.count("[fit]")
    assert 'lexical = { value = 1.25, source = "fitted by python benchmarks/fit_weights.py' \
        in text
    # Writing again replaces the [fit] table instead of adding to it.
    write_weights(path, tuning, {"command": "c", "data": [], "folds": "f", "date": "d",
                                 "held_out": {"b": {"top1": 0.5}}})
    again = load_tuning(path)
    assert again.fit["held_out"] == {"b": {"top1": 0.5}}
    assert again.fit["date"] == "d"


def test_articles_are_found_in_folders_of_folders(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text("Text.\n", encoding="utf-8")
        (tmp_path / name / "questions.json").write_text("{}", encoding="utf-8")
        (tmp_path / name / "README.md").write_text("# about\n", encoding="utf-8")
    found = find_articles([tmp_path])
    assert [(a.name, a.corpus.name) for a in found] == [("one", "one.txt"), ("two", "two.txt")]
    assert [a.name for a in find_articles([tmp_path / "two" / "questions.json"])] == ["two"]


def _hits(*rows: tuple[int, int, int]) -> dict[int, Hits]:
    """An article's hits at counts 5, 10 and 60: (top-1, top-3) per count, 20 questions."""
    return {count: Hits(top1, top3, 20) for count, (top1, top3) in
            zip((5, 10, 60), [(r[0], r[1]) for r in rows], strict=True)}


def test_the_candidate_count_is_the_smallest_that_loses_no_hit() -> None:
    keeps_all = _hits((15, 18, 0), (15, 18, 0), (15, 18, 0))
    loses_at_five = _hits((12, 17, 0), (16, 18, 0), (16, 18, 0))
    assert choose_count([keeps_all]) == 5
    assert choose_count([keeps_all, loses_at_five]) == 10
    # A count that gains at top-1 but loses at top-3 is not enough.
    trades = _hits((17, 17, 0), (16, 19, 0), (16, 19, 0))
    assert choose_count([trades]) == 10
    held = held_out_counts({"a": keeps_all, "b": loses_at_five})
    assert held["a"]["count"] == 10  # chosen on b alone
    assert held["b"]["count"] == 5  # chosen on a alone: b loses three questions with it
    assert (held["b"]["top1"], held["b"]["top1_largest"]) == (0.6, 0.8)


def test_a_fitted_count_of_candidates_is_written_as_a_whole_number(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    path.write_text(write_count(WEIGHTS.read_text(encoding="utf-8"), 12, "fitted by a test"),
                    encoding="utf-8")
    written = load_tuning(path)
    assert written.retrieval.words_candidates == 12
    assert isinstance(written.retrieval.words_candidates, int)
    assert written.retrieval.by_words().candidates == 12
    assert written.retrieval.candidates == default_tuning().retrieval.candidates
    assert 'words_candidates = { value = 12, source = "fitted by a test" }' in \
        path.read_text(encoding="utf-8")


def test_by_words_alone_only_the_fitted_count_of_candidates_is_reranked() -> None:
    # BM25 puts the two sentences without a number first; reranking lifts the third, which
    # holds the number asked for and the words together, above them, when it is reranked.
    gulls = "\n\n".join(f"Gull number {w} circled over the quay." for w in
                        ("one", "two", "three", "four", "five", "six", "seven", "eight"))
    index = build_index([Document("harbour", "Harbour", (
        "Boats were painted in blue and white, then sailed.\n\n"
        "Old boats were painted in red and green, then sailed.\n\n"
        "That morning at dawn 42 boats sailed out past the old harbour wall.\n\n" + gulls))])
    question = "how many boats sailed?"

    def first_quote(count: int) -> str:
        tuning = default_tuning().with_values({"retrieval.words_candidates": count})
        return QuoteEngine(index, tuning=tuning).answer_question(question, k=1).quotes[0].text

    assert first_quote(3) == "That morning at dawn 42 boats sailed out past the old harbour wall."
    assert first_quote(2) == "Boats were painted in blue and white, then sailed."
