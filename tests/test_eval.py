"""`quotebot eval`: the numbers it reports, on question files of our own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from quotebot.cli import main
from quotebot.evaluate import exact_match, normalize_answer, token_f1

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


def test_reports_hit_rates_short_answers_abstention_and_followups(tmp_path: Path,
                                                                  corpus: Path) -> None:
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


def test_reads_squad_files_and_scores_short_answers(tmp_path: Path, corpus: Path) -> None:
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
    [("not json", "not valid JSON"), ('{"something": 1}', "neither"), (None, "does not exist")],
)
def test_bad_question_files_get_one_clear_error(tmp_path: Path, corpus: Path,
                                                content: str | None, needle: str) -> None:
    qa = tmp_path / "qa.json"
    if content is not None:
        qa.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(qa), "--corpus", str(corpus), "--json"])
    assert result.exit_code != 0
    error = json.loads(result.stdout)["error"]
    assert needle in error["message"]
    assert "Traceback" not in result.output
