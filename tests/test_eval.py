"""`quotebot eval`: the numbers it reports, on question files of our own."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from quotebot.answer_overlap import exact_match, normalize_answer, token_f1
from quotebot.cli import main
from quotebot.evaluate import format_report

ARTICLE = (
    "The harbour festival drew 40,000 visitors over three days.\n"
    "Mayor Ana Costa opened the festival on Friday.\n"
    "Fireworks were cancelled because of strong winds.\n"
)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "harbour.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def run_eval(qa: Path, corpus: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus), "--json",
                                       *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_squad_normalisation_and_scores() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert exact_match("the Denver Broncos", "Denver Broncos") == 1.0
    assert exact_match("Broncos", "Denver Broncos") == 0.0
    assert token_f1("Broncos", "Denver Broncos") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert token_f1("Panthers", "Denver Broncos") == 0.0


def test_reports_hit_rates_short_answers_abstention_and_followups(
        tmp_path: Path, corpus: Path, gate_open: None) -> None:
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({
        "questions": [
            {"id": "a", "kind": "number", "question": "How many visitors came?",
             "expect": ["40,000 visitors"], "answer": ["40,000"]},
            {"id": "b", "kind": "who", "question": "Who opened the festival?",
             "expect": ["Ana Costa"], "answer": ["Ana Costa"]},
            {"id": "c", "kind": "who", "question": "Who opened the festival?",
             "expect": ["strong winds"]},
            {"id": "d", "kind": "unanswerable", "question": "What is the price of bread?"},
        ],
        "followups": [
            {"id": "f", "turns": ["How many visitors came?", "Why were they cancelled?"],
             "expect_last": ["Fireworks were cancelled"]},
            {"id": "g", "turns": ["How many visitors came?", "more"],
             "expect_last_any_quote_not_first_turn": True},
        ],
    }), encoding="utf-8")
    report = run_eval(qa, corpus)
    kinds = report["kinds"]
    assert kinds["number"]["top1"] == 1.0
    assert kinds["number"]["short_answer_accuracy"] == 1.0
    # The same question, once with the right expectation and once with a wrong one.
    assert kinds["who"]["top1"] == 0.5
    assert report["abstention"] == {"unanswerable": 1, "abstained": 1, "precision": 1.0,
                                    "recall": 1.0}
    # "more" after the only passage about visitors has nothing new to give.
    assert [c["ok"] for c in report["followups"]["conversations"]] == [True, False]
    assert [m["id"] for m in report["misses"]] == ["c"]
    # The text report names the conversation that failed, not only the count.
    text = format_report(report)
    assert "follow-ups: 1/2 correct" in text
    assert "failed g: How many visitors came? → more" in text and "failed f" not in text


def test_reads_squad_files_and_scores_short_answers(tmp_path: Path, corpus: Path,
                                                   gate_open: None) -> None:
    squad = {"version": "1.1", "data": [{"title": "Harbour", "paragraphs": [{
        "context": ARTICLE.replace("\n", " "),
        "qas": [
            {"id": "q1", "question": "How many visitors did the festival draw?",
             "answers": [{"text": "40,000", "answer_start": 26}]},
            {"id": "q2", "question": "Who opened the festival?",
             "answers": [{"text": "Mayor Ana Costa", "answer_start": 59}]},
        ]}]}]}
    qa = tmp_path / "squad.json"
    qa.write_text(json.dumps(squad), encoding="utf-8")
    report = run_eval(qa, corpus)
    overall = report["overall"]
    assert overall["questions"] == 2
    assert overall["top1"] == 1.0
    assert overall["exact_match"] == 0.5  # "40,000" exact; "Ana Costa" only overlaps
    assert 0.5 < overall["f1"] < 1.0


def test_text_report_has_a_row_per_kind(tmp_path: Path, corpus: Path) -> None:
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({"questions": [
        {"id": "a", "kind": "number", "question": "How many visitors came?",
         "expect": ["40,000"]}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus)])
    assert result.exit_code == 0
    assert "number" in result.output and "ALL" in result.output and "top-1" in result.output


@pytest.mark.parametrize(
    ("content", "needle"),
    [("not json", "not valid JSON"), ('{"something": 1}', "neither"), (None, "does not exist"),
     ("folder", "is a folder")],
)
def test_bad_question_files_get_one_clear_error(tmp_path: Path, corpus: Path,
                                                content: str | None, needle: str) -> None:
    qa = tmp_path / "qa.json"
    if content == "folder":
        qa.mkdir()
    elif content is not None:
        qa.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus), "--json"])
    assert result.exit_code != 0
    error = json.loads(result.stdout)["error"]
    assert needle in error["message"]
    assert "Traceback" not in result.output


# -- SQuAD 2.0, checks on question files, leave-one-article-out ---------------------------------


def squad(paragraph: str, qas: list[dict]) -> dict:  # type: ignore[type-arg]
    return {"version": "v2.0", "data": [{"title": "T", "paragraphs": [
        {"context": paragraph, "qas": qas}]}]}


def test_squad_2_unanswerable_questions_count_as_right_when_declined(tmp_path: Path,
                                                                      corpus: Path) -> None:
    qa = tmp_path / "squad2.json"
    qa.write_text(json.dumps(squad(ARTICLE.replace("\n", " "), [
        {"id": "a1", "question": "How many visitors did the festival draw?",
         "answers": [{"text": "40,000", "answer_start": 26}], "is_impossible": False},
        {"id": "a2", "question": "Who opened the festival?",
         "answers": [{"text": "Ana Costa", "answer_start": 65}], "is_impossible": False},
        # Written to look answerable: declined is right.
        {"id": "u1", "question": "Which fireworks were never cancelled?", "answers": [],
         "plausible_answers": [{"text": "Fireworks", "answer_start": 100}],
         "is_impossible": True},
        # Answered, so wrong.
        {"id": "u2", "question": "Who opened the festival?", "answers": [],
         "plausible_answers": [{"text": "Ana Costa", "answer_start": 65}],
         "is_impossible": True},
    ])), encoding="utf-8")
    report = run_eval(qa, corpus, "--semantic", "off")
    overall = report["overall"]
    assert (overall["questions"], overall["answerable"], overall["unanswerable"]) == (4, 2, 2)
    assert overall["answerable_answered"] == 1.0
    assert overall["unanswerable_declined"] == 0.5
    assert overall["top1"] == 1.0  # over answerable questions only
    groups = report["groups"]
    assert groups["unanswerable"]["questions"] == 2
    assert groups["unanswerable"]["unanswerable_declined"] == 0.5
    assert groups["answerable"]["answerable_answered"] == 1.0
    assert report["abstention"] == {"unanswerable": 2, "abstained": 1, "precision": 1.0,
                                    "recall": 0.5}
    assert [m["id"] for m in report["misses"]] == ["u2"]
    table = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus),
                                      "--semantic", "off"]).output
    assert "unanswerable" in table and "declined" in table and " 50.0%" in table


def test_an_entry_without_expected_text_is_rejected_by_name(tmp_path: Path,
                                                             corpus: Path) -> None:
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({"questions": [
        {"id": "a", "kind": "number", "question": "How many visitors came?",
         "expect": ["40,000"]},
        {"id": "b", "kind": "who", "question": "Who opened the festival?"},
    ]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus), "--json"])
    assert result.exit_code != 0
    message = json.loads(result.output)["error"]["message"]
    assert "questions[1]" in message and "'b'" in message and "Who opened" in message
    assert "expect" in message and "unanswerable" in message


def test_questions_about_another_article_get_a_warning(tmp_path: Path, corpus: Path) -> None:
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({"questions": [
        {"id": "a", "kind": "who", "question": "Who won the Super Bowl?",
         "expect": ["Denver Broncos"]}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus), "--json",
                                       "--semantic", "off"])
    assert result.exit_code == 0
    assert "another article" in result.stderr and str(qa) in result.stderr
    right = tmp_path / "right.json"
    right.write_text(json.dumps({"questions": [
        {"id": "a", "kind": "who", "question": "Who opened the festival?",
         "expect": ["Ana Costa"]}]}), encoding="utf-8")
    quiet = CliRunner().invoke(main, ["eval", str(right), "--corpus", str(corpus),
                                      "--semantic", "off"])
    assert "another article" not in quiet.stderr


HELD_OUT = {
    "harbour": ("The harbour festival drew 40,000 visitors over three days.\n"
                "Mayor Ana Costa opened the festival on Friday.\n"
                "Fireworks were cancelled because of strong winds.\n",
                [("How many visitors did the festival draw?", "40,000"),
                 ("Who opened the festival?", "Ana Costa"),
                 ("Why were the fireworks cancelled?", "strong winds")]),
    "library": ("The new library opened in 2019 with 120,000 books.\n"
                "Architect Lena Park designed the reading room.\n"
                "The roof garden closed because of heavy rain.\n",
                [("How many books did the library open with?", "120,000"),
                 ("Who designed the reading room?", "Lena Park"),
                 ("Why did the roof garden close?", "heavy rain")]),
    "market": ("The farmers market sold 9,000 apples in one morning.\n"
               "Chef Omar Haddad cooked lunch for the stall holders.\n"
               "The cheese stall stayed shut because of a power cut.\n",
               [("How many apples did the market sell?", "9,000"),
                ("Who cooked lunch for the stall holders?", "Omar Haddad"),
                ("Why did the cheese stall stay shut?", "power cut")]),
}


def write_articles(root: Path) -> Path:
    """Three articles laid out as ../shared/training/: <name>/<name>.txt + questions.json."""
    for name, (text, qas) in HELD_OUT.items():
        folder = root / name
        folder.mkdir(parents=True)
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        items = [{"id": f"{name}{n}", "question": q,
                  "answers": [{"text": a, "answer_start": text.replace("\n", " ").index(a)}]}
                 for n, (q, a) in enumerate(qas)]
        (folder / "questions.json").write_text(json.dumps(
            squad(text.replace("\n", " "), items)), encoding="utf-8")
    return root


@pytest.mark.slow
def test_held_out_scores_each_article_with_numbers_fitted_on_the_others(tmp_path: Path
                                                                         ) -> None:
    root = write_articles(tmp_path / "articles")
    result = CliRunner().invoke(main, ["eval", "--held-out", str(root), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["articles"]) == set(HELD_OUT)
    for name, article in report["articles"].items():
        assert article["fitted_on"] == sorted(set(HELD_OUT) - {name})
        assert article["overall"]["questions"] == 3
        assert set(article["fitted"]) >= {"semantic.lexical", "decision.min_coverage"}
    pooled = report["pooled"]
    assert pooled["questions"] == pooled["answerable"] == 9
    assert pooled["top1"] == 1.0
    assert pooled["unanswerable_declined"] is None
    table = CliRunner().invoke(main, ["eval", "--held-out", *(str(root / n) for n in HELD_OUT)])
    assert table.exit_code == 0, table.output
    assert "pooled" in table.output and "harbour" in table.output


def test_held_out_needs_two_articles_and_words_with_meaning(tmp_path: Path) -> None:
    root = write_articles(tmp_path / "articles")
    one = CliRunner().invoke(main, ["eval", "--held-out", str(root / "harbour"), "--json"])
    assert one.exit_code != 0
    assert "at least two articles" in json.loads(one.output)["error"]["message"]
    off = CliRunner().invoke(main, ["eval", "--held-out", str(root), "--semantic", "off"])
    assert off.exit_code != 0 and "--semantic on" in off.output
    assert "Traceback" not in one.output + off.output


# -- conversation sets --------------------------------------------------------------------

LIGHTHOUSE = ("The old lighthouse stands on Gull Point. Keeper Mara Lind lit its lamp every "
              "night for thirty years. She retired in 1998 because her eyes were failing. "
              "The lamp was replaced by an automatic beacon. The lighthouse is not open to "
              "visitors.")
BAKERY = ("The village bakery opens at six. Its owner, Tomas Berg, bakes rye bread on "
          "Mondays. He learned the trade from his grandfather.")


def write_conversation_set(root: Path) -> Path:
    """Two passages and two conversations of our own, in the shape of a CoQA set."""
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    (root / "corpus" / "bakery.txt").write_text(BAKERY, encoding="utf-8")

    def turn(question: str, answer: str, text: str, source: str,
             yesno: str | None = None) -> dict:  # type: ignore[type-arg]
        start = source.index(answer) if answer in source else -1
        span = None if start < 0 else {"text": answer, "start": start,
                                       "end": start + len(answer)}
        return {"question": question, "answer": text, "yesno": yesno, "span": span}

    data = {"conversations": [
        {"doc": "lighthouse", "turns": [
            turn("Who lit the lamp of the lighthouse?", "Mara Lind", "Keeper Mara Lind",
                 LIGHTHOUSE),
            turn("When did she retire?", "in 1998", "1998", LIGHTHOUSE),
            turn("Is the lighthouse open to visitors?", "is not open", "no", LIGHTHOUSE,
                 "no"),
        ]},
        {"doc": "bakery", "turns": [
            turn("When does the village bakery open?", "at six", "at six", BAKERY),
            turn("Who did Tomas Berg learn the trade from?", "his grandfather", "his grandfather",
                 BAKERY),
        ]},
    ]}
    path = root / "conversations.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_conversation_set_is_scored_turn_by_turn_first_turns_and_follow_ups_apart(
        tmp_path: Path) -> None:
    """Catches: conversations scored as single questions, first turns and follow-ups mixed,
    a quote of the wrong passage counted as right, or no plain BM25 beside the figures."""
    path = write_conversation_set(tmp_path / "set")
    result = CliRunner().invoke(main, ["eval", str(path), "--json", "--semantic", "off"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversations"] == 2
    assert report["first_turns"]["turns"] == 2 and report["follow_ups"]["turns"] == 3
    assert report["all"]["with_span"] == 5
    assert report["first_turns"]["top1"] == 1.0
    assert report["all"]["yes_no"] == 1
    for key in ("first_turns", "follow_ups", "all"):
        assert report["plain_bm25"][key]["with_span"] == report[key]["with_span"]
    # Plain BM25 asks "When did she retire?" alone and still finds the one sentence
    # with "retired"; quotebot, in the conversation, does too.
    assert report["follow_ups"]["top1"] == 1.0
    text = CliRunner().invoke(main, ["eval", str(path), "--semantic", "off"])
    assert text.exit_code == 0, text.output
    assert "follow-ups" in text.output and "plain BM25" in text.output


def test_a_quote_from_another_passage_is_not_right_even_with_the_same_words(
        tmp_path: Path) -> None:
    from quotebot.conversation_eval import ConversationCase, Turn, score_turn
    from quotebot.models import Answer, Quote

    case = ConversationCase("c", "lighthouse", (Turn("q", "a", span=(10, 20)),))
    elsewhere = Quote("x", "bakery", "", 1, 1, 0, 30, 1.0)
    here = Quote("x", "lighthouse", "", 1, 1, 15, 40, 1.0)
    before = Quote("x", "lighthouse", "", 1, 1, 0, 10, 1.0)
    answer = Answer("q", True, quotes=(elsewhere, before, here))
    scored = score_turn(case, 0, case.turns[0], answer)
    assert scored.top1 is False and scored.top3 is True
    no_span = score_turn(case, 1, Turn("Is it?", "no", yesno="no"), answer)
    assert no_span.top1 is None and no_span.yesno_given is False


def test_a_conversation_set_without_its_passages_gets_one_clear_error(tmp_path: Path) -> None:
    path = write_conversation_set(tmp_path / "set")
    (tmp_path / "set" / "corpus" / "bakery.txt").unlink()
    result = CliRunner().invoke(main, ["eval", str(path), "--json", "--semantic", "off"])
    assert result.exit_code != 0
    assert "'bakery'" in json.loads(result.output)["error"]["message"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"conversations": [{"doc": "x"}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(bad), "--corpus", str(tmp_path / "set"
                                                                         / "corpus")])
    assert result.exit_code != 0 and "conversations[0]" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_held_out_conversations_are_each_answered_with_weights_fitted_on_the_others(
        tmp_path: Path) -> None:
    path = write_conversation_set(tmp_path / "set")
    result = CliRunner().invoke(main, ["eval", str(path), "--held-out", "--json",
                                       "--semantic", "off"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["held_out"] is True
    assert set(report["fitted"]) == {"lighthouse", "bakery"}
    assert report["all"]["turns"] == 5


@pytest.mark.slow
def test_a_held_out_conversation_is_never_fitted_on_its_own_answers(tmp_path: Path) -> None:
    """Catches leakage in the fit that asks the turns again with fitted weights: each
    conversation's held-out weights must stay the same whatever its own answers say, while
    the other conversation's, fitted on them, change."""
    from quotebot.conversation_eval import read_conversations
    from quotebot.conversation_fit import held_out_conversations
    from quotebot.engine import QuoteEngine

    path = write_conversation_set(tmp_path / "set")
    engine = QuoteEngine.open(tmp_path / "set" / "corpus", index_dir=tmp_path / "index",
                              semantic="off")
    _, fitted = held_out_conversations(engine, read_conversations(path))
    data = json.loads(path.read_text(encoding="utf-8"))
    # The lighthouse's answers moved: "When did she retire?" now answered by the beacon.
    moved = "replaced by an automatic beacon"
    start = LIGHTHOUSE.index(moved)
    for turn in data["conversations"][0]["turns"][1:]:
        turn["span"] = {"text": moved, "start": start, "end": start + len(moved)}
    path.write_text(json.dumps(data), encoding="utf-8")
    _, again = held_out_conversations(engine, read_conversations(path))
    assert again["lighthouse"] == fitted["lighthouse"]
    assert again["bakery"] != fitted["bakery"]


def test_moving_conversations_are_examined_and_scored_leaving_the_last_passage(
        tmp_path: Path) -> None:
    """Catches weights fitted only on conversations that never leave their passage: with
    ``moving`` the bakery's first turn is asked after the lighthouse's first question,
    examined as a turn whose answer is in another document, and scored (the lead-in
    itself is not)."""
    from quotebot.conversation_eval import read_conversations, run_conversations
    from quotebot.conversation_fit import ELSEWHERE, examine_conversations
    from quotebot.engine import QuoteEngine

    path = write_conversation_set(tmp_path / "set")
    cases = read_conversations(path)
    engine = QuoteEngine.open(tmp_path / "set" / "corpus", index_dir=tmp_path / "index",
                              semantic="off")
    alone = examine_conversations(engine, cases, moving=False).turns
    moving = examine_conversations(engine, cases).turns
    assert [t.conversation for t in moving if t.answer_offset == ELSEWHERE] == ["bakery"]
    assert len(moving) == len(alone) + 1
    results = run_conversations(engine, cases, moving=True)
    assert [(r.conversation, r.position) for r in results] == [
        ("lighthouse", 0), ("lighthouse", 1), ("lighthouse", 2), ("bakery", 0),
        ("bakery", 1)]
    assert results[3].top3 is True  # its own words lead it to the bakery
    result = CliRunner().invoke(main, ["eval", str(path), "--moving", "--json",
                                       "--semantic", "off"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["first_turns"]["turns"] == 2


def test_the_position_prior_is_fitted_where_next_answers_are() -> None:
    """Catches: a prior that is not fitted on the data (flat, or peaked elsewhere), and
    weights that ignore what decides the ranking."""
    import numpy as np

    from quotebot.conversation_fit import FAR, Examined, ExaminedTurn, fit_conversation
    from quotebot.tuning import default_tuning

    base = default_tuning().conversation
    rng = np.random.default_rng(7)
    turns = []
    for n in range(60):
        # Five candidates at offsets -1 … +2 and far; the answer one after the last one,
        # and the question's own score says little.
        offsets = np.array([-1, 0, 1, 2, FAR])
        positive = offsets == 1
        turns.append(ExaminedTurn(f"c{n % 6}", rng.random(5), np.zeros(5), np.zeros(5),
                                  offsets, positive, 1))
    fitted = fit_conversation(Examined(turns, []), base)
    prior = dict(zip(range(-base.window, base.window + 1), fitted.prior, strict=True))
    assert max(prior, key=prior.__getitem__) == 1
    assert fitted.prior_weight > 0
    nothing = fit_conversation(Examined([], []), base)
    assert (nothing.prior, nothing.prior_weight) == (base.prior, base.prior_weight)


def test_a_conversation_is_fitted_to_stay_in_its_document() -> None:
    """Catches: one weight for "beyond the window" and "in another document" (a passage
    far down the same article then weighs as little as another article's), and an other
    document never weighed below the same one when the answers stay in their document."""
    import numpy as np

    from quotebot.conversation_fit import (
        ELSEWHERE,
        FAR,
        Examined,
        ExaminedTurn,
        fit_conversation,
    )
    from quotebot.tuning import default_tuning

    base = default_tuning().conversation
    rng = np.random.default_rng(11)
    turns = []
    for n in range(60):
        # The question's own best is right, near (most often the next sentence) or far in
        # the document, never elsewhere.
        offsets = np.array([0, 1, FAR, ELSEWHERE, ELSEWHERE])
        answer = (1, 1, 0, 2)[n % 4]
        positive = np.zeros(5, bool)
        positive[answer] = True
        question = rng.random(5) * 0.8
        question[answer] += 0.4
        question[3] += 0.3
        turns.append(ExaminedTurn(f"c{n % 6}", question, np.zeros(5), np.zeros(5), offsets,
                                  positive, int(offsets[answer])))
    fitted = fit_conversation(Examined(turns, []), base)
    assert fitted.prior_weight != base.prior_weight, "fitted, not the weights as they were"
    assert fitted.other_doc_weight < fitted.far_weight
    assert fitted.other_doc_weight < 0


def test_the_earlier_questions_are_fitted_to_find_the_passage_the_last_answer_missed(
        ) -> None:
    """Catches: the earlier questions' words not weighed, or weighed against the data, when
    the last answer went to another passage and the people's own words point back to
    theirs."""
    import numpy as np

    from quotebot.conversation_fit import ELSEWHERE, Examined, ExaminedTurn, fit_conversation
    from quotebot.tuning import default_tuning

    base = default_tuning().conversation
    rng = np.random.default_rng(5)
    turns = []
    for n in range(60):
        # Every other turn the last answer was in another passage: the answer is
        # "elsewhere", where the earlier questions' words are; otherwise it is the
        # sentence after the last answer, in the passage those words point to. The
        # question's own score says a little.
        offsets = np.array([0, 1, ELSEWHERE, ELSEWHERE, ELSEWHERE])
        positive = np.zeros(5, bool)
        answer = 1 if n % 2 else 2 + n % 3
        positive[answer] = True
        asked = rng.random(5) * 0.3
        asked[[0, 1] if n % 2 else [answer]] = 1.0
        question = rng.random(5) * 0.5
        question[answer] += 0.3
        turns.append(ExaminedTurn(f"c{n % 6}", question, np.zeros(5), asked, offsets,
                                  positive, int(offsets[answer])))
    fitted = fit_conversation(Examined(turns, []), base)
    assert fitted.prior_weight != base.prior_weight, "fitted, not the weights as they were"
    assert fitted.asked_weight > 1.0
    nothing = fit_conversation(Examined([], []), base)
    assert nothing.asked_weight == base.asked_weight


def test_where_the_conversation_was_is_fitted_to_bring_it_back_after_one_stray_answer(
        ) -> None:
    """Catches: the earlier answers' documents not weighed, or weighed against the data,
    when one answer went to another passage and the next answer is back in the passage
    the answers before it were in."""
    import numpy as np

    from quotebot.conversation_fit import ELSEWHERE, Examined, ExaminedTurn, fit_conversation
    from quotebot.tuning import default_tuning

    base = default_tuning().conversation
    rng = np.random.default_rng(3)
    turns = []
    for n in range(60):
        # Candidates: two in the last answer's passage, two in the passage of the three
        # answers before it, one in a passage never answered from. The answer is back in
        # the passage before on every other turn, else the sentence after the last answer;
        # the question's own score says a little.
        offsets = np.array([0, 1, ELSEWHERE, ELSEWHERE, ELSEWHERE])
        homes = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1],
                          [0, 0, 0, 0]], float)
        answer = 1 if n % 2 else 2 + n % 4 // 2
        positive = np.zeros(5, bool)
        positive[answer] = True
        question = rng.random(5) * 0.5
        question[answer] += 0.3
        turns.append(ExaminedTurn(f"c{n % 6}", question, np.zeros(5), np.zeros(5), offsets,
                                  positive, int(offsets[answer]), homes))
    fitted = fit_conversation(Examined(turns, []), base)
    assert fitted.home_weight > 0.1
    assert fitted.home_decay in (0.25, 0.5, 0.75, 1.0)
    without = fit_conversation(Examined([replace(t, homes=None) for t in turns], []), base)
    assert without.home_weight == 0


def test_a_follow_ups_candidates_reach_as_far_as_next_answers_go_from_the_last_in_their_passage(
        ) -> None:
    """Catches: a reach that is not fitted (the weights' value kept), or one taken from
    answers in passages the conversation never answered from."""
    import numpy as np

    from quotebot.conversation_fit import Examined, ExaminedTurn, fit_conversation
    from quotebot.tuning import default_tuning

    base = replace(default_tuning().conversation, home_reach=0)
    turns = []
    for n in range(40):
        # 36 of 40 next answers at most 3 sentences from the last one in their passage,
        # the others 9 away; 40 more in passages never answered from.
        away = (1, -2, 3, 2, 1, -1, 2, 3, 1, 9)[n % 10]
        for offset in (away, None):
            turns.append(ExaminedTurn(f"c{n % 5}", np.array([1.0]), np.zeros(1),
                                      np.zeros(1), np.array([0]), np.array([True]), 0,
                                      home_offset=offset))
    assert fit_conversation(Examined(turns, []), base).home_reach == 3


def test_reports_the_precision_of_the_short_answers_shown(tmp_path: Path, corpus: Path,
                                                          gate_open: None) -> None:
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({"questions": [
        {"id": "a", "kind": "number", "question": "How many visitors came?",
         "expect": ["40,000 visitors"], "answer": ["40,000"]},
        # The same short answer judged against a gold it does not match: shown and wrong.
        {"id": "b", "kind": "number", "question": "How many visitors came?",
         "expect": ["40,000 visitors"], "answer": ["three days"]},
        # No gold answer: cannot be judged, so not counted.
        {"id": "c", "kind": "who", "question": "Who opened the festival?",
         "expect": ["Ana Costa"]},
    ]}), encoding="utf-8")
    overall = run_eval(qa, corpus, "--semantic", "off")["overall"]
    assert overall["short_answers_shown"] == 2
    assert overall["short_answer_precision"] == 0.5


def test_reads_squad_questions_written_flat(tmp_path: Path, corpus: Path,
                                           gate_open: None) -> None:
    qa = tmp_path / "qa.json"
    qa.write_text(json.dumps({"questions": [
        {"id": "a", "doc": "harbour", "question": "How many visitors came?",
         "answers": ["40,000", "40,000 visitors"], "impossible": False},
        {"id": "b", "doc": "harbour", "question": "What is the price of bread?",
         "answers": [], "impossible": True},
    ]}), encoding="utf-8")
    data = run_eval(qa, corpus, "--semantic", "off")
    overall = data["overall"]
    assert (overall["answerable"], overall["unanswerable"]) == (1, 1)
    assert overall["top1"] == 1.0 and overall["exact_match"] == 1.0
    assert overall["unanswerable_declined"] == 1.0
