"""The short-answer gate: the evidence it weighs, the model fitted on it, and what a user
sees (a short answer only when it is more likely right than wrong; the quotes always)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from quotebot.analysis import tokenize
from quotebot.confidence import (
    FEATURES,
    Gate,
    evidence,
    missing_names,
    missing_verbs,
    missing_words,
    names_elsewhere,
    same_answer,
)
from quotebot.conversation_eval import ConversationCase, Turn
from quotebot.engine import QuoteEngine
from quotebot.evaluate import Case
from quotebot.fitting_gate import (
    TARGET_PRECISION,
    THRESHOLD,
    Penalty,
    Rows,
    answer_rows,
    choose_penalty,
    choose_target,
    choose_weighting,
    conversation_rows,
    expected_threshold,
    fit_gate,
    fit_threshold,
    fit_weights,
    held_out,
    log_loss,
    nested_held_out,
    nested_probabilities,
    nested_report,
    precision_bound,
    probabilities,
    reliability,
    summary,
    unstable,
    without_removed,
    write_gate,
)
from quotebot.models import Document
from quotebot.question import parse_question
from quotebot.store.build import build_index
from quotebot.tuning import default_tuning, load_tuning

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "quotebot" / "data" / "weights.toml"


def features_of(question: str, sentence: str, answer: str, rule: str = "number",
                kind_asked: str | None = "number") -> dict[str, float]:
    tokens = tokenize(sentence)
    q = parse_question(question)
    words = {t.norm for t in q.tokens}
    matched = {i: n for n, i in enumerate(i for i, t in enumerate(tokens)
                                          if t.norm in words and not t.is_stop)}
    at = sentence.index(answer)
    x = evidence(q, kind_asked, sentence, tokens, matched, (at, at + len(answer)), rule,
                 literal=1.0, margin=0.5, agreement=False, similarity=None, span_meaning=None,
                 rarity=lambda token: 0.5)
    return dict(zip(FEATURES, x.tolist(), strict=True))


def test_a_number_that_counts_something_else_is_told_apart() -> None:
    people = features_of("How many people live on the island?",
                         "The island has been lived on for 160 years by 70 people.", "70")
    years = features_of("How many people live on the island?",
                        "The island has been lived on for 160 years by 70 people.", "160")
    assert people["counts_asked"] == 1.0
    assert years["counts_asked"] == -1.0
    # Each number has the other as a rival of its shape.
    assert people["rivals"] == years["rivals"] > 0


def test_an_answer_the_question_already_gives_is_told_apart() -> None:
    given = features_of("What did the United Methodist Church approve?",
                        "The United Methodist Church approved the plan.",
                        "United Methodist Church", rule="phrase", kind_asked=None)
    new = features_of("What did the United Methodist Church approve?",
                      "The United Methodist Church approved the plan.", "the plan",
                      rule="phrase", kind_asked=None)
    assert given["in_question"] == 1.0
    assert new["in_question"] == 0.0
    assert given["rule_phrase"] == new["rule_phrase"] == 1.0


def test_same_answer_ignores_case_and_punctuation() -> None:
    assert same_answer("Sophie Linden.", "sophie linden")
    assert not same_answer("Sophie Linden", "Linden")
    assert not same_answer(None, "x")


def test_the_fit_weighs_the_evidence_that_separates_right_from_wrong() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((400, len(FEATURES)))
    x[:, 0] = 1.0
    x[:, FEATURES.index("margin")] = rng.random(400)
    right = x[:, FEATURES.index("margin")] + rng.normal(0, 0.1, 400) > 0.5
    w = fit_weights(x, right)
    assert w[FEATURES.index("margin")] > 2.0
    p = probabilities(x, w)
    shown = summary(p, right, 0.5, answerable=400)
    assert shown["precision"] > shown["precision_before_gate"]
    assert shown["shown"] < 400


def _one_feature(rng: np.random.Generator, n: int, name: str) -> np.ndarray:
    """``n`` rows of gate evidence: the intercept, and feature ``name`` uniform in [0, 1)."""
    x = np.zeros((n, len(FEATURES)))
    x[:, 0] = 1.0
    x[:, FEATURES.index(name)] = rng.random(n)
    return x


def _right_by_coverage(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` real short answers, right (with noise) by their coverage: evidence and truth."""
    x = _one_feature(rng, n, "coverage")
    return x, x[:, FEATURES.index("coverage")] + 0.2 * rng.standard_normal(n) > 0.5


def test_held_out_judges_each_article_by_the_others() -> None:
    rng = np.random.default_rng(1)

    def rows(n: int) -> Rows:
        x = _one_feature(rng, n, "literal")
        return Rows(x, x[:, FEATURES.index("literal")] > 0.6, n)

    report = held_out({"a": rows(100), "b": rows(120), "c": rows(80)})
    assert set(report) == {"a", "b", "c", "pooled", "threshold"}
    assert report["threshold"] == THRESHOLD
    assert report["pooled"]["short_answers"] == 300
    assert report["pooled"]["shown"] == sum(report[k]["shown"] for k in "abc")
    assert report["pooled"]["precision"] > 0.9


def test_the_threshold_is_the_lowest_that_reaches_the_precision() -> None:
    # Ranked by probability: 30 right, then one wrong in every two.
    p = np.linspace(1.0, 0.0, 60)
    right = np.r_[np.ones(30, bool), np.arange(30) % 2 == 0]
    threshold = fit_threshold(p, right, 0.9)
    shown = p >= threshold
    assert right[shown].mean() >= 0.9
    # One answer more, and the precision falls below.
    assert right[p >= p[shown.sum()]].mean() < 0.9
    # Never reached: nothing is shown.
    assert fit_threshold(p, np.zeros(60, bool), 0.9) == 1.0
    # Reached only by too few answers: nothing is shown either.
    assert fit_threshold(p, np.r_[np.ones(5, bool), np.zeros(55, bool)], 0.9) == 1.0


def test_a_threshold_fitted_on_the_other_articles_judges_each_one() -> None:
    rng = np.random.default_rng(2)

    def rows(n: int) -> Rows:
        x = _one_feature(rng, n, "literal")
        right = x[:, FEATURES.index("literal")] + 0.2 * rng.standard_normal(n) > 0.5
        return Rows(x, right, n)

    articles = {"a": rows(150), "b": rows(150), "c": rows(150)}
    report = nested_held_out(articles, target=TARGET_PRECISION)
    assert all(0.5 < report[k]["threshold"] <= 1.0 for k in "abc")
    assert report["pooled"]["shown"] == sum(report[k]["shown"] for k in "abc") > 0
    assert report["pooled"]["precision"] > 0.8


def test_the_written_gate_is_the_one_read_back(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    shutil.copy(WEIGHTS, path)
    weights = np.linspace(-1, 1, len(FEATURES))
    write_gate(path, weights, (0.83, 0.87), (0.71, 0.69), "fitted by a test")
    gate = Gate.of(load_tuning(path).answer)
    assert gate.weights == pytest.approx(tuple(np.round(weights, 4)))
    assert (gate.threshold, gate.words_threshold) == (0.83, 0.87)
    assert (gate.threshold_for(True), gate.threshold_for(False)) == (0.83, 0.87)
    section = load_tuning(path).answer
    assert (section.precision, section.words_precision) == (0.71, 0.69)
    # The rest of the file is as it was.
    assert path.read_text().split("[answer]")[0] == WEIGHTS.read_text().split("[answer]")[0]


def test_the_threshold_is_where_the_answers_shown_are_expected_right_as_often_as_asked(
        ) -> None:
    p = np.array([0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.5])
    threshold = expected_threshold(p, 0.9)
    # 0.99, 0.95, 0.9, 0.85, 0.8 average 0.898; without 0.8 they average 0.9225.
    assert threshold == 0.85
    assert p[p >= threshold].mean() >= 0.9 > p[p >= 0.8].mean()
    assert expected_threshold(np.array([0.6, 0.5]), 0.9) == 1.0
    assert expected_threshold(np.array([0.95, 0.6]), 0.7) == 0.6


@pytest.fixture(scope="module")
def article() -> QuoteEngine:
    text = ("The capital has seen 127 homicides, with 72 fatal stabbings and 14 shootings.\n"
            "The mayor said the figures were shocking.\n")
    return QuoteEngine(build_index([Document("a", "A", text)]))


def test_a_short_answer_is_shown_with_its_confidence(article: QuoteEngine) -> None:
    answer = article.answer_question("how many stabbings?")
    found = answer.short or answer.withheld
    assert found is not None and found.text == "72" and found.confidence is not None
    # Shown exactly when its confidence reaches the threshold.
    # (By words alone: the engine has no vectors.)
    threshold = default_tuning().answer.words_threshold
    assert (answer.short is not None) == (found.confidence >= threshold)
    # (Its confidence is rounded to 4 places: the threshold is set just below it.)
    lenient = default_tuning().with_values(
        {"answer.words_threshold": found.confidence - 5e-5})
    shown = QuoteEngine(article.index, tuning=lenient).answer_question("how many stabbings?")
    assert shown.short is not None and shown.short.text == "72"
    assert shown.short.confidence == found.confidence


def test_below_the_threshold_only_the_quotes_answer(article: QuoteEngine) -> None:
    strict = default_tuning().with_values({"answer.words_threshold": 1.0})
    engine = QuoteEngine(article.index, tuning=strict)
    answer = engine.answer_question("how many stabbings?")
    assert answer.answered and answer.short is None
    assert "72 fatal stabbings" in answer.quotes[0].text
    # An engine without vectors answers to its own threshold, not to the one with vectors.
    words_only = default_tuning().with_values({"answer.threshold": 1.0,
                                               "answer.words_threshold": 0.0})
    shown = QuoteEngine(article.index, tuning=words_only).answer_question("how many stabbings?")
    assert shown.short is not None and shown.short.text == "72"


def test_how_much_of_its_sentence_an_answer_carries_is_weighed_with_vectors(tmp_path: Path) -> None:
    text = ("Sky launched its digital service in 1998 from the Astra 2A satellite.\n"
            "The old analogue service was broadcast from another orbital position.\n")
    path = tmp_path / "sky.txt"
    path.write_text(text)
    engine = QuoteEngine.open(path, index_dir=tmp_path / "index", semantic="on")
    answer = engine._answer("When did Sky launch its digital service?", 3, 0, None,
                            gate=False)
    assert answer.short is not None and answer.short.text == "1998"
    meaning = dict(zip(FEATURES, answer.short.evidence, strict=True))
    assert meaning["has_vectors"] == 1.0 and 0.0 < meaning["span_meaning"] < 1.0
    words_alone = QuoteEngine(engine.index)._answer(
        "When did Sky launch its digital service?", 3, 0, None, gate=False)
    assert words_alone.short is not None
    assert dict(zip(FEATURES, words_alone.short.evidence, strict=True))["span_meaning"] == 0.0


def test_a_fragment_cut_at_a_function_word_is_told_apart() -> None:
    question = "What did observations confirm?"
    sentence = "Observations made during the 1970s confirmed the theory of weak forces."
    fragment = features_of(question, sentence, "Observations made", rule="phrase",
                           kind_asked=None)
    phrase = features_of(question, sentence, "the theory of weak forces", rule="phrase",
                         kind_asked=None)
    assert fragment["ends_outside_phrase"] == 1.0
    assert phrase["ends_outside_phrase"] == 0.0
    assert phrase["noun_share"] > fragment["noun_share"]


def test_a_sentence_that_lacks_the_asked_verb_is_told_apart() -> None:
    question = parse_question("How many customers did Sky lose in 2015?")
    concepts = [t.surface for t in question.content]

    def share(sentence: str) -> float:
        tokens = tokenize(sentence)
        matched = {i: n for i, t in enumerate(tokens) for n, c in enumerate(question.content)
                   if set(t.terms) & set(c.terms)}
        return missing_verbs(question, concepts, matched)

    assert share("In 2015 Sky gained 400,000 customers.") == 1.0
    assert share("In 2015 Sky lose 400,000 customers, it said.") == 0.0
    # A question without a verb of its own asks for none.
    assert missing_verbs(parse_question("How many customers in 2015?"), ["customers", "2015"],
                         {}) == 0.0


def test_the_fit_does_not_depend_on_the_units_of_the_evidence() -> None:
    rng = np.random.default_rng(3)
    x = np.zeros((300, len(FEATURES)))
    x[:, 0] = 1.0
    margin = FEATURES.index("margin")
    x[:, margin] = rng.random(300)
    right = x[:, margin] + rng.normal(0, 0.2, 300) > 0.5
    scaled = x.copy()
    scaled[:, margin] *= 100.0
    assert probabilities(scaled, fit_weights(scaled, right)) == pytest.approx(
        probabilities(x, fit_weights(x, right)), abs=1e-4)


def test_a_rule_that_found_few_answers_weighs_little() -> None:
    rng = np.random.default_rng(4)
    x = np.zeros((400, len(FEATURES)))
    x[:, 0] = 1.0
    x[:, FEATURES.index("literal")] = rng.random(400)
    right = x[:, FEATURES.index("literal")] + rng.normal(0, 0.2, 400) > 0.5
    rare = FEATURES.index("rule_role")
    x[:3, rare] = 1.0
    right[:3] = True
    w = fit_weights(x, right)
    assert abs(w[rare]) < abs(w[FEATURES.index("literal")])


def test_passages_that_agree_on_the_answer_support_it(tmp_path: Path) -> None:
    text = ("The museum opened in 1998 after a long campaign.\n"
            "Visitors have come to the museum since it opened in 1998.\n"
            "A new wing of the museum opened in 2005.\n")
    engine = QuoteEngine(build_index([Document("m", "Museum", text)]))
    answer = engine._answer("When did the museum open?", 3, 0, None, gate=False)
    assert answer.short is not None and answer.short.text == "1998"
    found = dict(zip(FEATURES, answer.short.evidence, strict=True))
    assert found["support"] > 0.0
    assert 0.0 < found["coverage"] <= 1.0


def test_a_question_asked_without_the_paragraph_that_answers_it_gives_a_wrong_row(
        tmp_path: Path) -> None:
    text = ("The city museum opened in 1998 after a long campaign.\n\n"
            "The city museum shop opened in 2005, beside the station.\n")
    engine = QuoteEngine(build_index([Document("m", "Museum", text)]))
    case = Case(id="a", question="When did the city museum open?", kind="when",
                expect=["1998"], answers=["1998"], squad=True)
    rows = answer_rows(engine, [case], left_out=True)
    assert rows.right.tolist() == [True]
    # Without its own paragraph the question finds the shop's year: a short answer that
    # only seems to answer, kept to fit on.
    assert len(rows.left_out) == 1
    assert answer_rows(engine, [case]).left_out.shape == (0, len(FEATURES))


def test_rows_of_questions_left_unanswered_teach_the_weights_not_the_rate() -> None:
    rng = np.random.default_rng(5)

    def rows(n: int) -> Rows:
        x = _one_feature(rng, n, "literal")
        right = x[:, FEATURES.index("literal")] + 0.3 * rng.standard_normal(n) > 0.4
        left_out = np.zeros((2 * n, len(FEATURES)))
        left_out[:, 0] = 1.0
        left_out[:, FEATURES.index("literal")] = 0.5 * rng.random(2 * n)
        return Rows(x, right, n, left_out)

    articles = {"a": rows(200), "b": rows(200)}
    weights = fit_gate(articles)
    assert weights[FEATURES.index("literal")] > 0
    # Twice as many made-up wrong rows as real ones, yet the probabilities of the real
    # ones average the share of them that is right.
    x = np.vstack([r.x for r in articles.values()])
    right = np.concatenate([r.right for r in articles.values()])
    assert probabilities(x, weights).mean() == pytest.approx(right.mean(), abs=0.01)


def test_the_penalty_leaves_out_evidence_that_says_opposite_things_in_different_groups(
        ) -> None:
    rng = np.random.default_rng(6)
    literal, margin = FEATURES.index("literal"), FEATURES.index("margin")

    def rows(n: int, sign: float) -> Rows:
        # "literal" tells right from wrong in every group; "margin" says right in one
        # group and wrong in the other.
        x = np.zeros((n, len(FEATURES)))
        x[:, 0] = 1.0
        x[:, literal] = rng.random(n)
        x[:, margin] = rng.random(n)
        score = x[:, literal] + sign * 0.6 * (x[:, margin] - 0.5)
        return Rows(x, score + 0.15 * rng.standard_normal(n) > 0.5, n)

    groups = {"a": rows(200, 1.0), "b": rows(200, -1.0), "c": rows(200, 1.0),
              "d": rows(200, -1.0)}
    assert "margin" in unstable(groups, Penalty(1e-3))
    penalty, losses = choose_penalty(groups, choices=(1e-3, 1e-1))
    assert set(losses) == {1e-3, 1e-1}
    assert "margin" in penalty.dropped and "literal" not in penalty.dropped
    assert losses[penalty.l2] == min(losses.values())
    weights = fit_gate(groups, penalty)
    assert weights[margin] == 0.0 and weights[literal] > 0


def test_a_calibrated_gate_has_the_reliability_it_claims() -> None:
    rng = np.random.default_rng(7)
    p = rng.random(20000)
    right = rng.random(20000) < p
    table = reliability(p, right)
    assert [b["bin"] for b in table] == ["0–0.2", "0.2–0.4", "0.4–0.6", "0.6–0.8",
                                         "0.8–0.9", "0.9–1"]
    assert sum(b["n"] for b in table) == 20000
    assert all(abs(b["predicted"] - b["observed"]) < 0.03 for b in table)
    # Sure of everything, right half the time: far worse than saying one half.
    sure = np.full(20000, 0.99)
    assert log_loss(sure, right) > log_loss(np.full(20000, 0.5), right) > log_loss(p, right)


def test_what_of_the_question_the_corpus_and_the_passage_lack_is_measured() -> None:
    # Three words: one the corpus lacks (idf as the rarest, 4), one the passage lacks.
    unknown, rarest = missing_words([4.0, 2.0, 2.0], [False, True, True], [0.0, 0.0, 1.0],
                                    4.0)
    assert unknown == pytest.approx(0.5)
    assert rarest == pytest.approx(0.5)
    # A word the corpus lacks is not counted as one the passage lacks.
    assert missing_words([4.0, 2.0], [False, True], [0.0, 1.0], 4.0)[1] == 0.0
    assert missing_words([2.0, 1.0], [True, True], [1.0, 0.5], 4.0) == (0.0, 0.0)


def test_the_next_passages_answers_agree_or_rival(tmp_path: Path) -> None:
    """Catches: the next passages' own short answers not counted, or counted on the wrong
    side: the same year twice agrees, another year rivals."""
    agreeing = QuoteEngine(build_index([Document("m", "Museum", (
        "The city museum opened in 1998 after a long campaign.\n"
        "Visitors have come to the city museum since it opened in 1998.\n"))]))
    rival = QuoteEngine(build_index([Document("m", "Museum", (
        "The city museum opened in 1998 after a long campaign.\n"
        "The city museum's new wing opened in 2005.\n"))]))

    def found(engine: QuoteEngine) -> dict[str, float]:
        answer = engine._answer("When did the city museum open?", 3, 0, None, gate=False)
        assert answer.short is not None and answer.short.text == "1998"
        return dict(zip(FEATURES, answer.short.evidence, strict=True))

    assert (found(agreeing)["agreeing_answers"], found(agreeing)["rival_answers"]) == (
        pytest.approx(np.log1p(1)), 0.0)
    assert (found(rival)["agreeing_answers"], found(rival)["rival_answers"]) == (
        0.0, pytest.approx(np.log1p(1)))
    # One way of ranking without vectors: the first passage is first by its words.
    assert found(rival)["lexical_first"] == 1.0 and found(rival)["meaning_first"] == 0.0


def test_where_the_answer_stands_and_whether_it_has_the_asked_shape_are_weighed() -> None:
    """Catches: the question's words before the answer not counted, or a name asked for
    ("who") not told from a lower-case phrase."""
    question = parse_question("Who founded the bakery?")
    text = "Anna Berg founded the bakery in 1998."
    tokens = tokenize(text)
    matched = {i: n for n, i in enumerate(
        next(j for j, t in enumerate(tokens) if t.norm == w) for w in ("founded", "bakery"))}

    def found(span: tuple[int, int]) -> dict[str, float]:
        x = evidence(question, None, text, tokens, matched, span, "person", literal=1.0,
                     margin=0.5, agreement=False, similarity=None, span_meaning=None,
                     rarity=lambda t: 0.5, question_words=2)
        return dict(zip(FEATURES, x, strict=True))

    name = found((0, 9))  # "Anna Berg", before the question's words
    year = found((text.index("1998"), text.index("1998") + 4))  # after them
    assert name["after_question"] == 0.0 and year["after_question"] == 1.0
    assert name["shape_match"] == 1.0 and year["shape_match"] == -1.0
    assert name["question_words"] == pytest.approx(np.log1p(2))


def test_the_gate_knows_how_long_the_document_is(tmp_path: Path) -> None:
    short = QuoteEngine(build_index([Document("m", "Museum", (
        "The city museum opened in 1998 after a long campaign.\n"))]))
    long = QuoteEngine(build_index([Document("m", "Museum", (
        "The city museum opened in 1998 after a long campaign.\n"
        + "".join(f"Room {n} of the museum shows paintings from {1800 + n}.\n"
                  for n in range(1, 40))))]))

    def found(engine: QuoteEngine) -> dict[str, float]:
        answer = engine._answer("When did the city museum open?", 3, 0, None, gate=False)
        assert answer.short is not None and answer.short.text == "1998"
        return dict(zip(FEATURES, answer.short.evidence, strict=True))

    assert found(short)["doc_sentences"] == pytest.approx(np.log1p(1))
    assert found(long)["doc_sentences"] == pytest.approx(np.log1p(40))
    # Every room's year is found with the museum: a time the question could ask for.
    assert found(long)["typed_candidates"] > found(short)["typed_candidates"] > 0


def test_each_turn_of_a_conversation_over_a_short_passage_gives_a_row() -> None:
    text = ("Anna Berg founded the bakery in 1998. She sold it to her nephew in 2012. "
            "The bakery is in Millbrook.\n")
    engine = QuoteEngine(build_index([Document("bakery", "Bakery", text)]))
    case = ConversationCase("c1", "bakery", (
        Turn("When was the bakery founded?", "1998"),
        Turn("Is it in Millbrook?", "yes", yesno="yes"),
        Turn("When did she sell it?", "in 2010"),
    ))
    rows = conversation_rows(engine, [case])
    # The yes/no turn is no span to judge; the second year is wrong against "in 2010".
    assert rows.answerable == 2
    assert rows.right.tolist() == [True, False]
    assert rows.x.shape == (2, len(FEATURES))


def test_the_precision_shown_has_a_lower_bound_that_asks_more_of_few_answers() -> None:
    # 20 of 20 right is no proof of 0.9 at 95% confidence; 60 of 60 is.
    assert precision_bound(20, 20) < TARGET_PRECISION < precision_bound(60, 60)
    assert precision_bound(0, 0) == 0.0
    assert precision_bound(93, 100) < TARGET_PRECISION < 93 / 100


def test_thresholds_ask_more_of_probabilities_that_run_high_on_groups_left_out() -> None:
    rng = np.random.default_rng(9)

    def rows(n: int, noise: float) -> Rows:
        x = _one_feature(rng, n, "literal")
        right = x[:, FEATURES.index("literal")] + noise * rng.standard_normal(n) > 0.5
        return Rows(x, right, n)

    # Groups unlike each other: the probabilities fitted on some run high on another.
    articles = {"a": rows(300, 0.02), "b": rows(300, 0.2), "c": rows(300, 0.2)}
    nested = nested_probabilities(articles)
    targets = (0.9, 0.93, 0.96, 0.99)
    target, reports = choose_target([(nested, articles)], targets=targets)
    assert set(reports) == set(targets)
    assert target > 0.9
    chosen = reports[target][0]
    assert chosen["precision"] >= TARGET_PRECISION
    # A lower target shows more, and too often wrong.
    lower = [t for t in reports if t < target]
    assert all(reports[t][0]["precision"] < TARGET_PRECISION for t in lower)
    assert all(reports[t][0]["shown"] >= chosen["shown"] for t in lower)
    # The same as judging each group at a threshold fitted without it.
    assert nested_report(nested, articles, target)["pooled"] == chosen
    assert nested_held_out(articles, target=target)["pooled"] == chosen


def test_short_answers_given_without_the_passage_that_answers_are_reported_apart() -> None:
    rng = np.random.default_rng(8)

    def rows(n: int) -> Rows:
        x = _one_feature(rng, n, "coverage")
        right = x[:, FEATURES.index("coverage")] + 0.1 * rng.standard_normal(n) > 0.5
        removed = np.zeros((n // 2, len(FEATURES)))
        removed[:, 0] = 1.0
        removed[:, FEATURES.index("coverage")] = 0.6 * rng.random(n // 2)
        return Rows(x, right, n, removed)

    articles = {"a": rows(200), "b": rows(160), "c": rows(120)}
    fitted_on_real = without_removed(articles)
    assert all(len(r.left_out) == 0 for r in fitted_on_real.values())
    report = held_out(fitted_on_real, threshold=0.8, judged=articles)
    assert [report[k]["removed"] for k in "abc"] == [100, 80, 60]
    assert report["pooled"]["removed"] == 240
    assert report["pooled"]["removed_shown"] == sum(report[k]["removed_shown"] for k in "abc")
    # Their coverage is low: few of them reach the threshold, unlike the real ones.
    assert report["pooled"]["removed_shown_share"] < report["pooled"]["shown"] / 480
    nested = nested_held_out(fitted_on_real, judged=articles)
    assert nested["pooled"]["removed"] == 240
    assert nested["pooled"]["removed_shown"] == sum(nested[k]["removed_shown"] for k in "abc")


def test_how_much_of_the_question_the_passage_scores_is_weighed(tmp_path: Path) -> None:
    engine = QuoteEngine(build_index([Document("m", "Museum", (
        "The city museum opened in 1998 after a long campaign.\n"
        "The station opened in 2005.\n"))]))

    def found(question: str) -> dict[str, float]:
        answer = engine._answer(question, 3, 0, None, gate=False)
        assert answer.short is not None
        return dict(zip(FEATURES, answer.short.evidence, strict=True))

    whole = found("When did the city museum open?")
    part = found("When did the city museum shop open?")
    assert 0.0 < part["score_share"] < whole["score_share"] <= 2.0
    assert 0.0 < whole["proximity"] <= 1.0


ISLAND = ("The island was bought by Lord Matheson in 1853 for 190,000 pounds.\n\n"
          "Its distillery was founded in 1829 and closed in 1924.\n\n"
          "In 2009 the islanders bought the island from its last landlord, Mr Grant.\n")


def test_names_and_numbers_of_the_question_the_passage_lacks_are_weighed() -> None:
    assert missing_names(["matheson", "1853", "island"], [True, False, False],
                         [1.0, 0.0, 1.0]) == 0.5
    assert missing_names(["island", "buy"], [False, False], [0.0, 0.0]) == 0.0
    engine = QuoteEngine(build_index([Document("i", "Island", ISLAND)]))

    def found(question: str) -> tuple[str, float]:
        answer = engine._answer(question, 3, 0, None, gate=False)
        assert answer.short is not None
        return answer.short.text, dict(zip(FEATURES, answer.short.evidence,
                                           strict=True))["missing_names"]

    assert found("When did Lord Matheson buy the island?") == ("1853", 0.0)
    # Another man's name: the passage that has it lacks the "Lord" asked about.
    assert found("When did Lord Grant buy the island?") == ("2009", 0.5)


def test_a_question_with_a_word_replaced_gives_a_wrong_row_the_real_one_a_right_one() -> None:
    engine = QuoteEngine(build_index([Document("i", "Island", ISLAND)]))
    case = Case(id="a", question="When did Lord Matheson buy the island?", kind="when",
                expect=["1853"], answers=["1853"], squad=True)
    rows = answer_rows(engine, [case], perturbed=True)
    assert rows.right.tolist() == [True]
    # "When did Lord Grant buy …" (a word replaced) and "… sell the island?" (its
    # opposite) are answered; "… not buy …" is declined, so it gives no row.
    assert rows.changes.tolist() == ["word", "antonym"]
    assert rows.perturbed.shape == (2, len(FEATURES))
    opposite = FEATURES.index("opposite_words")
    assert rows.perturbed[:, opposite].tolist() == [0.0, 1.0] and rows.x[0, opposite] == 0
    assert rows.left_out.shape == (0, len(FEATURES))
    assert answer_rows(engine, [case]).perturbed.shape == (0, len(FEATURES))


def test_a_question_with_a_name_swapped_for_another_of_the_paragraph_gives_a_wrong_row() -> None:
    engine = QuoteEngine(build_index([Document("i", "Island", (
        "In 1853 Lord Matheson bought the island from the Duke of Argyll.\n\n"
        "Ferries sail from the pier twice a week.\n"))]))
    case = Case(id="a", question="When did Lord Matheson buy the island from the Duke?",
                kind="when", expect=["1853"], answers=["1853"], squad=True)
    rows = answer_rows(engine, [case], perturbed=True)
    assert rows.right.tolist() == [True]
    # "When did Argyll buy the island from the Duke?": both named there, the sale between
    # them not.
    assert "swap" in rows.changes.tolist()


def test_the_evidence_tells_a_negation_an_opposite_and_a_name_elsewhere() -> None:
    engine = QuoteEngine(build_index([Document("i", "Island", ISLAND + (
        "\n\nThe ferry did not sail in 1990. Its owner, Mr Grant, sold it to the council.\n"))]))

    def found(question: str) -> dict[str, float]:
        answer = engine._answer(question, 3, 0, None, gate=False)
        assert answer.short is not None, answer.reason
        return dict(zip(FEATURES, answer.short.evidence, strict=True))

    asked = found("When did Lord Matheson buy the island?")
    assert (asked["negation_differs"], asked["opposite_words"], asked["names_elsewhere"]) == (
        0.0, 0.0, 0.0)
    assert found("When did Lord Matheson sell the island?")["opposite_words"] == 1.0
    # The sentence says the ferry did not sail; the question asks when it did.
    assert found("When did the ferry sail?")["negation_differs"] == 1.0
    assert found("When did the ferry not sail?")["negation_differs"] == 0.0
    assert names_elsewhere(["grant", "council", "1990"], [True, False, False],
                           [1.0, 1.0, 1.0], {0}) == 0.5
    assert names_elsewhere(["ferry"], [False], [1.0], set()) == 0.0


def test_questions_with_a_word_replaced_weigh_what_they_are_given() -> None:
    rng = np.random.default_rng(10)
    names = FEATURES.index("missing_names")

    def rows(n: int) -> Rows:
        # Real short answers: right by their coverage, their names always found. Those to
        # questions with a word replaced: as covered, but a name missing.
        x, right = _right_by_coverage(rng, n)
        changed = _one_feature(rng, n, "coverage")
        changed[:, names] = 1.0
        return Rows(x, right, n, perturbed=changed)

    groups = {"a": rows(150), "b": rows(150), "c": rows(150)}
    alone = fit_gate(without_removed(groups), Penalty(1e-3))
    assert np.allclose(fit_gate(groups, Penalty(1e-3, perturbed=0.0)), alone)
    weighed = fit_gate(groups, Penalty(1e-3, perturbed=0.5))
    assert weighed[names] < 0 == alone[names]
    # Fitted on wrong rows, the bias is refitted on the real ones: still calibrated.
    x = np.vstack([r.x for r in groups.values()])
    right = np.concatenate([r.right for r in groups.values()])
    assert probabilities(x, weighed).mean() == pytest.approx(right.mean(), abs=0.01)
    penalty, losses = choose_weighting(groups, shares=(0.0, 0.5), choices=(1e-3,))
    assert set(losses) == {0.0, 0.5}
    assert losses[penalty.perturbed][1e-3] == min(by[1e-3] for by in losses.values())
    report = held_out(groups, threshold=0.8, penalty=Penalty(1e-3, perturbed=0.5))
    assert report["pooled"]["perturbed"] == 450
    assert report["pooled"]["perturbed_shown"] == sum(report[k]["perturbed_shown"]
                                                      for k in "abc")
    # A missing name tells them apart: none is shown.
    assert report["pooled"]["perturbed_shown"] == 0 < report["pooled"]["shown"]


def test_changed_questions_shown_are_counted_by_what_was_changed() -> None:
    rng = np.random.default_rng(11)
    names = FEATURES.index("missing_names")

    def rows(n: int) -> Rows:
        x, right = _right_by_coverage(rng, n)
        # Half the changed questions lack a name the gate can see, half look like real ones.
        changed = np.vstack([_one_feature(rng, n // 2, "coverage"),
                             _one_feature(rng, n // 2, "coverage")])
        changed[: n // 2, names] = 1.0
        changed[n // 2:] = x[: n // 2]
        changes = np.array(["swap"] * (n // 2) + ["negation"] * (n // 2))
        return Rows(x, right, n, perturbed=changed, changes=changes)

    groups = {"a": rows(100), "b": rows(100), "c": rows(100)}
    pooled = nested_held_out(groups, penalty=Penalty(1e-3, perturbed=0.5))["pooled"]
    by_change = pooled["perturbed_by_change"]
    assert set(by_change) == {"swap", "negation"}
    assert by_change["swap"]["given"] == by_change["negation"]["given"] == 150
    assert by_change["swap"]["shown"] + by_change["negation"]["shown"] == (
        pooled["perturbed_shown"])
    # Those the evidence tells apart are shown less than those it cannot.
    assert by_change["swap"]["shown"] < by_change["negation"]["shown"]
