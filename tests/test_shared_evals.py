"""The shared question sets through the real CLI, printed as a report at the end of the run.

These are measurements, not gates: only the contract of the report and a floor on the
article's own questions are asserted, so a ranking change shows up as numbers to read.
"""

from __future__ import annotations

import json

import pytest

from conftest import REPORTS, SHARED, run_cli

ARTICLE_QA = SHARED / "qa" / "article_qa.json"
SQUAD = SHARED / "benchmarks" / "squad-superbowl50"
needs_shared = pytest.mark.skipif(not ARTICLE_QA.exists(),
                                  reason="../shared (question sets) is not beside the repo")


def evaluate(*args: str) -> dict:  # type: ignore[type-arg]
    result = run_cli("eval", *args, "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def table(title: str, *args: str) -> str:
    result = run_cli("eval", *args, timeout=300)
    return f"{title}\n$ quotebot eval {' '.join(args)}\n{result.stdout}"


@needs_shared
def test_article_questions() -> None:
    report = evaluate(str(ARTICLE_QA))
    questions = json.loads(ARTICLE_QA.read_text())["questions"]
    assert report["overall"]["questions"] == len(questions)
    assert report["overall"]["top1"] >= 0.8
    REPORTS.append(table("Article questions (../shared/qa/article_qa.json)", str(ARTICLE_QA)))


@needs_shared
def test_squad_super_bowl_50() -> None:
    report = evaluate(str(SQUAD / "questions.json"), "--corpus", str(SQUAD / "super-bowl-50.txt"))
    assert report["overall"]["questions"] == 405
    assert {"top1", "top3", "exact_match", "f1", "abstained"} <= set(report["overall"])
    REPORTS.append(table("SQuAD v1.1 Super Bowl 50", str(SQUAD / "questions.json"), "--corpus",
                         str(SQUAD / "super-bowl-50.txt")).split("\nmisses")[0])


@needs_shared
def test_questions_asked_of_the_wrong_article_are_abstained_on() -> None:
    squad_on_article = evaluate(str(SQUAD / "questions.json"))
    article_on_squad = evaluate(str(ARTICLE_QA), "--corpus", str(SQUAD / "super-bowl-50.txt"))
    abstained = (squad_on_article["overall"]["abstained"] / 405,
                 article_on_squad["overall"]["abstained"] / article_on_squad["overall"][
                     "questions"])
    REPORTS.append("Cross-corpus abstention: SQuAD questions asked of the default article "
                   f"{abstained[0]:.1%}; article questions asked of Super Bowl 50 "
                   f"{abstained[1]:.1%}")
    assert abstained[0] >= 0.9
