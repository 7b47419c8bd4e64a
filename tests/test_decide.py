"""Saying "the article doesn't say", and why: every rule of the decision, on small articles
of the tests' own, each with the reason a reader sees.

Each test names the rule that declined (``Verdict.rule``) and checks the reason the engine
returns; the thresholds are the tests' own (not the fitted ones), chosen apart from each
other so that a rule switched off, or two thresholds swapped, fails a test here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quotebot.decide import Clash, Evidence, Verdict, decide
from quotebot.engine import QuoteEngine, _AnswerSpans
from quotebot.features import compute_features, gather_evidence
from quotebot.models import Answer
from quotebot.plan import Concept, QueryPlan, plan_question
from quotebot.question import parse_question
from quotebot.rerank import LexicalScorer, Scorer, SemanticScorer, rank
from quotebot.retrieve import retrieve
from quotebot.tuning import Decision, Tuning, default_tuning

#: Thresholds apart from each other: swapping any two changes some verdict below.
THRESHOLDS = {
    "min_coverage": 0.5,
    "min_coverage_words": 0.45,
    "close_similarity": 0.6,
    "min_coverage_close": 0.2,
    "min_similarity": 0.3,
    "words_alone_coverage": 0.7,
    "min_coverage_untyped": 0.8,
    "min_coverage_unfocused": 0.9,
}

BROADCASTER = (
    "Sky is the largest pay-TV broadcaster in the United Kingdom.\n"
    "When Sky Digital was launched in 1998 the new service used the Astra 2A satellite.\n"
    "The 3D channel was dropped from the service in 2015.\n"
    "The service was available in 10 million homes in 2010.\n"
    "Michael Grade criticised the operations in front of the select committee.\n"
    "The treasurer of the company did not sign the new contract.\n"
    "Customers who do not subscribe can still pay a monthly fee for recordings.\n"
)


def tuning(**changes: float) -> Tuning:
    values = {f"decision.{k}": v for k, v in {**THRESHOLDS, **changes}.items()}
    return default_tuning().with_values(values)


def engine_over(tmp_path: Path, text: str, *, semantic: bool = False,
                **changes: float) -> QuoteEngine:
    tmp_path.mkdir(parents=True, exist_ok=True)
    corpus = tmp_path / "article.txt"
    corpus.write_text(text, encoding="utf-8")
    index = QuoteEngine.open(corpus, index_dir=tmp_path / "index", semantic="off").index
    engine = QuoteEngine(index, tuning=tuning(**changes))
    if semantic:
        assert engine.attach_semantic("on", tmp_path / "index")
    return engine


def verdict(engine: QuoteEngine, question: str) -> tuple[Verdict, Answer]:
    """The decision on ``question`` (the engine's stages, to see which rule decided) and
    the answer the engine gives, which must agree with it."""
    index, t = engine.index, engine.tuning
    plan = plan_question(parse_question(question), index, t)
    candidates = retrieve(plan, index, t.retrieval)
    answer = engine.answer_question(question)
    if not len(candidates):
        found = decide(plan, None, t.decision)
    else:
        features = compute_features(plan, index, candidates, t.lexical)
        scorer: Scorer = LexicalScorer(t.lexical)
        meaning = engine._meaning
        if meaning is not None:
            vector = meaning.encoder.encode([plan.question.text])[0]
            features.cosines = meaning.vectors.similarities(  # type: ignore[attr-defined]
                vector, features.sids)
            scorer = SemanticScorer(LexicalScorer(t.lexical), t.semantic)
        spans = _AnswerSpans(plan, engine, features)
        base, bonus = scorer.terms(plan, features, spans.has_answer)
        order, _ = rank(base, bonus, spans.has_answer, features.sids, 3)
        best = order[0]
        found = decide(plan, gather_evidence(plan, index, features, best, spans.tokens(best),
                                             spans.has_answer, t.correction), t.decision)
    assert answer.answered == found.answered
    if not answer.answered:
        assert answer.reason == found.reason
    return found, answer


@pytest.fixture()
def broadcaster(tmp_path: Path) -> QuoteEngine:
    return engine_over(tmp_path, BROADCASTER)


# -- rules on questions, end to end -------------------------------------------------------------


@pytest.mark.parametrize("semantic", [False, True])
def test_a_name_the_article_never_mentions_is_declined_with_what_it_mentions_instead(
        tmp_path: Path, semantic: bool) -> None:
    engine = engine_over(tmp_path, "Senior Met police officers travelled to New York last "
                                   "month to learn from the NYPD.\n", semantic=semantic)
    found, answer = verdict(engine, "Did the Met officers travel to Chicago?")
    assert found.rule == "unknown_name"
    assert "New York" in answer.reason and "Chicago" in answer.reason
    assert verdict(engine, "Did the Met officers travel to New York?")[0].answered


def test_a_misspelt_name_is_not_a_name_the_article_lacks(tmp_path: Path) -> None:
    engine = engine_over(tmp_path, "ITV held the Premier League rights until 1992.\n"
                                   "Microsoft renamed SkyDrive in 2014.\n", min_coverage=0.3)
    assert verdict(engine, "Who held the Premier Leage rights?")[0].answered
    assert verdict(engine, "When did Microsoft rename Sky Drive?")[0].rule != "unknown_name"
    found, answer = verdict(engine, "Who held the Bundesliga rights?")
    assert found.rule == "unknown_name"
    assert "never mentions Bundesliga" in answer.reason


@pytest.mark.parametrize("semantic", [False, True])
def test_a_passage_sharing_too_little_of_the_question_is_declined(
        tmp_path: Path, semantic: bool) -> None:
    engine = engine_over(tmp_path, BROADCASTER, semantic=semantic)
    found, answer = verdict(engine, "What is the average salary of the treasurer?")
    assert found.rule == "low_coverage"
    assert "salary" in answer.reason and "covers only" in answer.reason


@pytest.mark.parametrize("semantic", [False, True])
def test_one_shared_word_and_one_the_article_lacks_is_declined(tmp_path: Path,
                                                               semantic: bool) -> None:
    # Coverage floors low enough (with vectors and without) that only this rule declines.
    engine = engine_over(tmp_path, BROADCASTER, semantic=semantic, min_coverage_words=0.2,
                         min_coverage=0.2, min_coverage_close=0.2)
    found, answer = verdict(engine, "What did the treasurer embezzle?")
    assert found.rule == "one_word"
    assert "embezzle" in answer.reason


def test_who_is_the_role_needs_the_role_in_the_passage(tmp_path: Path) -> None:
    engine = engine_over(tmp_path, "The company named a new chairman, Ana Costa, in 2012.\n"
                                   "The treasurer of the rowing club resigned.\n"
                                   "The harbour festival drew many visitors.\n",
                         min_coverage=0.1, min_coverage_close=0.1)
    found, answer = verdict(engine, "Who is the treasurer of the company named in 2012?")
    assert found.rule == "missing_head"
    assert answer.reason == "Nothing here mentions the treasurer."
    assert verdict(engine, "Who is the chairman of the company named in 2012?")[0].answered


def test_a_negated_question_is_declined_when_the_passage_is_not_negated(
        broadcaster: QuoteEngine) -> None:
    found, answer = verdict(broadcaster, "Which channel was never dropped from the service?")
    assert found.rule == "negation"
    assert "“never”" in answer.reason and "The 3D channel was dropped" in answer.reason
    # The passage says it with a negation too: answered.
    assert verdict(broadcaster, "Who did not sign the new contract?")[0].answered


def test_a_word_the_passage_says_the_opposite_of_is_declined(
        broadcaster: QuoteEngine) -> None:
    found, answer = verdict(broadcaster, "In how many homes was the service unavailable in "
                                         "2010?")
    assert found.rule == "opposite"
    assert "“available”, not “unavailable”" in answer.reason
    assert verdict(broadcaster, "In how many homes was the service available in 2010?"
                   )[0].answered


def test_a_year_the_passage_gives_differently_is_declined(broadcaster: QuoteEngine) -> None:
    found, answer = verdict(broadcaster, "Which satellite did Sky Digital use in 1995?")
    assert found.rule == "other_number"
    assert answer.reason.startswith("The article mentions 1998 here, not 1995")
    assert verdict(broadcaster, "Which satellite did Sky Digital use in 1998?")[0].answered


def test_a_comparison_the_passage_makes_the_other_way_is_declined(
        broadcaster: QuoteEngine) -> None:
    found, answer = verdict(broadcaster, "Which is the smallest pay-TV broadcaster in the "
                                         "United Kingdom?")
    assert found.rule == "other_degree"
    assert "“largest”, not “smallest”" in answer.reason
    assert verdict(broadcaster, "Which is the largest pay-TV broadcaster in the United "
                                "Kingdom?")[0].answered


def test_a_how_many_question_without_a_number_in_the_passage(tmp_path: Path) -> None:
    text = "Michael Grade criticised the operations of the broadcaster in front of the " \
           "select committee.\n"
    question = "How many operations did Michael Grade criticise on television?"
    strict = engine_over(tmp_path / "strict", text, min_coverage_words=0.3,
                         min_coverage_untyped=0.99)
    found, answer = verdict(strict, question)
    assert found.rule == "missing_type"
    assert "no number" in answer.reason
    lenient = engine_over(tmp_path / "lenient", text, min_coverage_words=0.3,
                          min_coverage_untyped=0.0, min_coverage_unfocused=0.0)
    assert verdict(lenient, question)[0].answered


def test_a_passage_matching_the_framing_but_not_the_focus(tmp_path: Path) -> None:
    text = "The committee heard evidence about the operations of the broadcaster.\n"
    strict = engine_over(tmp_path / "strict", text, min_coverage_words=0.3,
                         min_coverage_unfocused=0.99)
    found, answer = verdict(strict, "What evidence did the committee hear about subsidies?")
    assert found.rule == "missing_focus"
    assert "subsidies" in answer.reason
    lenient = engine_over(tmp_path / "lenient", text, min_coverage_words=0.3,
                          min_coverage_unfocused=0.0)
    assert verdict(lenient, "What evidence did the committee hear about subsidies?"
                   )[0].answered


def test_a_passage_about_something_else_is_declined_by_meaning(tmp_path: Path) -> None:
    """With vectors: shared words, another topic."""
    text = ("The bank of the river flooded after the storm.\n"
            "The harbour festival drew many visitors.\n"
            "Fireworks were cancelled because of strong winds.\n"
            "The mayor opened the new library on Friday.\n")
    question = "Which bank raised its interest rates?"
    engine = engine_over(tmp_path, text, semantic=True, min_coverage=0.05,
                         min_coverage_close=0.05, min_similarity=0.6, words_alone_coverage=0.99)
    found, answer = verdict(engine, question)
    assert found.rule == "other_topic"
    assert "about something else" in answer.reason
    lenient = engine_over(tmp_path / "lenient", text, semantic=True, min_coverage=0.05,
                          min_coverage_close=0.05, min_similarity=0.0)
    assert verdict(lenient, question)[0].rule != "other_topic"


@pytest.mark.parametrize("semantic", [False, True])
def test_negation_declines_with_and_without_vectors(tmp_path: Path, semantic: bool) -> None:
    engine = engine_over(tmp_path, BROADCASTER, semantic=semantic)
    found, _ = verdict(engine, "Which channel was never dropped from the service?")
    assert found.rule == "negation"


# -- the thresholds, each in its place ---------------------------------------------------------


@pytest.fixture()
def plan_of(broadcaster: QuoteEngine):  # type: ignore[no-untyped-def]
    def make(question: str):  # type: ignore[no-untyped-def]
        return plan_question(parse_question(question), broadcaster.index, broadcaster.tuning)
    return make


def evidence(plan, coverage: float, similarity: float | None = None,  # type: ignore[no-untyped-def]
             **extra: object) -> Evidence:
    return Evidence(coverage, [1.0] * len(plan.concepts), similarity, **extra)  # type: ignore[arg-type]


DECISION = Decision(**THRESHOLDS, recheck=5)


def test_coverage_needed_is_lower_when_the_passage_is_close_in_meaning(plan_of) -> None:  # type: ignore[no-untyped-def]
    plan = plan_of("Which satellite did Sky Digital use?")
    assert decide(plan, evidence(plan, 0.4, 0.5), DECISION).rule == "low_coverage"
    assert decide(plan, evidence(plan, 0.4, 0.65), DECISION).answered
    assert decide(plan, evidence(plan, 0.15, 0.65), DECISION).rule == "low_coverage"
    # Words only (no vectors) have their own floor, neither the close nor the far one.
    assert decide(plan, evidence(plan, 0.47, None), DECISION).answered
    assert decide(plan, evidence(plan, 0.43, None), DECISION).rule == "low_coverage"


def test_far_in_meaning_needs_words_alone_to_cover_it(plan_of) -> None:  # type: ignore[no-untyped-def]
    plan = plan_of("Which satellite did Sky Digital use?")
    assert decide(plan, evidence(plan, 0.6, 0.25), DECISION).rule == "other_topic"
    assert decide(plan, evidence(plan, 0.75, 0.25), DECISION).answered
    assert decide(plan, evidence(plan, 0.6, 0.35), DECISION).answered


def test_missing_answer_type_and_focus_have_their_own_floors(plan_of) -> None:  # type: ignore[no-untyped-def]
    plan = plan_of("How many homes had the service?")
    assert decide(plan, evidence(plan, 0.75, has_answer=False), DECISION).rule == "missing_type"
    assert decide(plan, evidence(plan, 0.85, has_answer=False), DECISION).answered
    assert decide(plan, evidence(plan, 0.85, has_answer=True), DECISION).answered
    assert decide(plan, evidence(plan, 0.85, missing_focus=0), DECISION).rule == "missing_focus"
    assert decide(plan, evidence(plan, 0.95, missing_focus=0), DECISION).answered


def test_each_clash_has_its_rule_and_reason(plan_of) -> None:  # type: ignore[no-untyped-def]
    plan = plan_of("Which satellite did Sky Digital use?")
    cases = {
        "negation": Clash("negation", "never", None, "The 3D channel was dropped"),
        "opposite": Clash("opposite", "unavailable", "available", "service was available"),
        "other_number": Clash("number", "1995", "1998", "launched in 1998"),
        "other_degree": Clash("degree", "smallest", "largest", "is the largest"),
    }
    for rule, clash in cases.items():
        found = decide(plan, evidence(plan, 1.0, 0.9, clashes=(clash,)), DECISION)
        assert found.rule == rule
        assert clash.context in found.reason


# -- every verdict exactly, on plans and evidence given by hand -------------------------------
#
# The decision is a pure function: these run in microseconds, so that each of its rules, its
# thresholds' edges and the reason a reader sees are checked on every change.


def word(label: str, *, known: bool = True, proper: bool = False, surface: str | None = None,
         weight: float = 1.0) -> Concept:
    """A concept of the question: ``label`` as searched for, ``surface`` as written."""
    return Concept(label, (1,) if known else (), (), 2.0, known, weight=weight, proper=proper,
                   surface=label if surface is None else surface)


def plan(question: str, *concepts: Concept) -> QueryPlan:
    return QueryPlan(parse_question(question), concepts, 0.5)


SATELLITE = plan("Which satellite did Sky Digital use?", word("satellite"),
                 word("sky", proper=True, surface="Sky"),
                 word("digital", proper=True, surface="Digital"), word("use"))


def found(coverage: float, similarity: float | None = None, *, evidence: list[float] | None = None,
          **extra: object) -> Evidence:
    return Evidence(coverage, evidence or [1.0] * 4, similarity, **extra)  # type: ignore[arg-type]


def test_no_matching_sentence_and_no_known_word_have_their_verdicts() -> None:
    """Catches: a verdict without a reason or a rule, or one that answers, when nothing
    matched."""
    assert decide(SATELLITE, None, DECISION) == Verdict(
        False, "No sentence shares a word with the question.", "no_match")
    unknown = plan("Which satellite did Sky use?", word("satellit", known=False),
                   word("skyy", known=False))
    assert decide(unknown, found(0.9, evidence=[0.0, 0.0]), DECISION) == Verdict(
        False, "None of the question's words occur in the corpus.", "unknown_words")


def test_names_the_corpus_lacks_are_listed_three_at_most() -> None:
    """Catches: a list of missing names cut at the wrong length or joined wrongly, a
    misspelt name counted as missing, and the name the passage gives instead left out."""
    names = [word(n.lower(), known=False, proper=True, surface=n)
             for n in ("Leeds", "York", "Hull", "Bath")]
    four = plan("Did Leeds, York, Hull and Bath play?", *names, word("play"))
    assert decide(four, found(0.9, evidence=[0.0] * 4 + [1.0]), DECISION) == Verdict(
        False, "The corpus never mentions Leeds, York, Hull.", "unknown_name")
    assert decide(four, found(0.9, evidence=[0.0] * 4 + [1.0], other_name="Sheffield"),
                  DECISION) == Verdict(
        False, "The article mentions “Sheffield”, not Leeds, York, Hull; it never mentions "
               "Leeds, York, Hull.", "unknown_name")
    assert decide(four, found(0.9, evidence=[0.0] * 4 + [1.0], misspelt=frozenset({0, 2})),
                  DECISION) == Verdict(
        False, "The corpus never mentions York, Bath.", "unknown_name")
    assert decide(four, found(0.9, evidence=[1.0] * 5, misspelt=frozenset(range(4))),
                  DECISION).answered


def test_too_little_coverage_names_the_missing_words_four_at_most() -> None:
    """Catches: a reason that names more than four missing words, joins them wrongly, uses
    the word as searched for where the question wrote it otherwise, or says nothing when
    every word was found but too weakly."""
    five = plan("Who sold the old red boat yesterday?", word("sold", surface="Sold"),
                word("old"), word("red"), word("boat", surface=""), word("yesterday"))
    assert decide(five, found(0.25, evidence=[0.0] * 5), DECISION) == Verdict(
        False, "The best passage covers only 25% of the question; nothing near it mentions "
               "Sold, old, red, boat.", "low_coverage")
    assert decide(five, found(0.25, evidence=[0.5] * 5), DECISION) == Verdict(
        False, "The best passage covers only 25% of the question; nothing near it mentions "
               "its key words.", "low_coverage")


def test_each_coverage_floor_is_reached_exactly_at_its_value() -> None:
    """Catches: ``<=`` for ``<`` on any floor (a passage covering exactly the floor is
    enough), ``>`` for ``>=`` on closeness, and a passage far in meaning judged by the floor
    for words alone."""
    d = DECISION
    assert decide(SATELLITE, found(d.min_coverage_words), DECISION).answered
    assert decide(SATELLITE, found(d.min_coverage, 0.5), DECISION).answered
    assert decide(SATELLITE, found(0.47, 0.5), DECISION).rule == "low_coverage"
    assert decide(SATELLITE, found(d.min_coverage_close, d.close_similarity), DECISION).answered
    assert decide(SATELLITE, found(d.min_coverage_close, 0.59), DECISION).rule == "low_coverage"
    # Far in meaning (below min_similarity) needs words_alone_coverage, and exactly it is
    # enough; exactly min_similarity is not far.
    assert decide(SATELLITE, found(d.words_alone_coverage, 0.25), DECISION).answered
    assert decide(SATELLITE, found(0.6, d.min_similarity), DECISION).answered
    assert decide(SATELLITE, found(0.6, 0.25), DECISION) == Verdict(
        False, "The closest passage shares some words but is about something else "
               "(similarity 0.25).", "other_topic")


def test_one_shared_word_names_the_first_word_the_corpus_lacks() -> None:
    """Catches: a verdict that answers, and a reason naming another word than the first
    unknown one (as written, or as searched for when it was not written)."""
    question = plan("What did the treasurer embezzle and hide?", word("treasurer"),
                    word("embezzle", known=False, surface=""), word("hide", known=False))
    assert decide(question, found(0.6, evidence=[1.0, 0.0, 0.0]), DECISION) == Verdict(
        False, "Only one word of the question occurs near the best passage; nothing mentions "
               "embezzle.", "one_word")
    framing = plan("What is the name of the treasurer?", word("name", known=False, weight=0.5),
                   word("treasurer"))
    assert decide(framing, found(0.6, evidence=[0.0, 1.0]), DECISION).answered


def test_who_is_the_x_needs_x_unless_the_passage_is_close_in_meaning() -> None:
    """Catches: the head rule applied to questions that are not "who", to a close passage,
    or answering; and the role named as searched for where the question wrote it."""
    who = plan("Who is the treasurer of the company?", word("treasurer", surface="Treasurer"),
               word("company"))
    assert decide(who, found(0.6, evidence=[0.0, 1.0]), DECISION) == Verdict(
        False, "Nothing here mentions the Treasurer.", "missing_head")
    assert decide(who, found(0.6, 0.7, evidence=[0.0, 1.0]), DECISION).answered
    what = plan("What is the capital of the company?", word("capital"), word("company"))
    assert decide(what, found(0.6, evidence=[0.0, 1.0]), DECISION).answered


def test_each_clash_declines_with_its_reason_and_the_first_of_a_kind_wins() -> None:
    """Catches: a clash that answers, a reason that quotes the wrong words, rules tried in
    another order than :data:`RULES`, and the last clash of a kind reported instead of the
    first."""
    negation = Clash("negation", "never", None, "the 3D channel was dropped")
    opposite = Clash("opposite", "unavailable", "available", "was available in 10 million")
    number = Clash("number", "1995", "1998", "launched in 1998")
    later = Clash("number", "1995", "2001", "renamed in 2001")
    degree = Clash("degree", "smallest", "largest", "is the largest pay-TV")
    expected = {
        "negation": "The question says “never”, but the closest passage has no negation: "
                    "“the 3D channel was dropped”.",
        "opposite": "The article says “available”, not “unavailable”: “was available in 10 "
                    "million”.",
        "other_number": "The article mentions 1998 here, not 1995: “launched in 1998”.",
        "other_degree": "The article says “largest”, not “smallest”: “is the largest pay-TV”.",
    }
    clashes = [degree, number, later, opposite, negation]
    # Taking the last clash away each time: the rule of the next one in RULES decides.
    for rule in ("negation", "opposite", "other_number", "other_number", "other_degree"):
        verdict = decide(SATELLITE, found(1.0, 0.9, clashes=tuple(clashes)), DECISION)
        assert verdict == Verdict(False, expected[rule], rule, clashes[-1].asked)
        clashes.pop()


def test_a_missing_kind_of_answer_and_a_missing_focus_decline_below_their_floors() -> None:
    """Catches: either rule answering, its floor reached with ``<=``, and the kind of
    answer named wrongly in the reason."""
    homes = plan("How many homes had the service?", word("homes"), word("service"))
    when = plan("When did the service start?", word("service"), word("start"))
    d = DECISION
    assert decide(homes, found(0.75, evidence=[1.0, 1.0], has_answer=False), d) == Verdict(
        False, "The closest passage has no number in it, and it covers only 75% of the "
               "question.", "missing_type")
    assert decide(when, found(0.75, evidence=[1.0, 1.0], has_answer=False), d).reason == (
        "The closest passage has no time or date in it, and it covers only 75% of the "
        "question.")
    assert decide(homes, found(d.min_coverage_untyped, evidence=[1.0, 1.0], has_answer=False),
                  d).answered
    focus = plan("What evidence did the committee hear about subsidies?", word("evidence"),
                 word("committee"), word("subsidies", surface="Subsidies"))
    assert decide(focus, found(0.85, evidence=[1.0, 1.0, 0.0], missing_focus=2), d) == Verdict(
        False, "The closest passage matches the question's other words but says nothing "
               "about Subsidies.", "missing_focus")
    assert decide(focus, found(d.min_coverage_unfocused, evidence=[1.0, 1.0, 0.0],
                               missing_focus=2), d).answered


def test_an_answer_says_how_much_of_the_question_it_covers() -> None:
    """Catches: an answered verdict without its reason or its rule."""
    assert decide(SATELLITE, found(0.625), DECISION) == Verdict(
        True, "Covers 62% of the question.", "answered")
