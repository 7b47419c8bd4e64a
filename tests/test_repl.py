"""The REPL with piped input: one question per line, JSON Lines out, conversation kept."""

from __future__ import annotations

import json

from conftest import run_cli


def jsonl(stdin: str, *args: str) -> list[dict]:  # type: ignore[type-arg]
    result = run_cli("repl", "--json", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_one_json_object_per_question_and_follow_ups_carry_over() -> None:
    out = jsonl("Who is the deputy mayor for policing?\nWhat did she say?\n"
                "how many stabbings?\nmore\n")
    assert len(out) == 4
    assert out[0]["answer"] == "Sophie Linden"
    assert out[1]["resolved_question"] == "What did Sophie Linden say?"
    assert out[1]["quotes"][0]["text"].startswith("Ms Linden said")
    assert out[2]["answer"] == "72"
    # "more" continues the question before it. (Comparing its quotes with the answer's
    # proved nothing: the article has no fourth passage about stabbings, so "more" has
    # none; tests/test_follow_ups.py pages through a longer answer.)
    assert out[3]["resolved_question"] == "how many stabbings?"


def test_blank_lines_are_skipped_and_bad_lines_get_the_error_shape() -> None:
    out = jsonl("\n   \n???\nhow many stabbings?\n\n")
    assert len(out) == 2
    assert out[0]["error"]["code"] == "no_words"
    assert out[1]["answer"] == "72"


def test_sources_help_and_quit() -> None:
    out = jsonl(":sources\n:help\n:quit\nhow many stabbings?\n")
    assert out[0]["documents"][0]["doc"] == "met-police-nypd-visit"
    assert "more" in out[1]["help"]
    assert len(out) == 2  # nothing after :quit


def test_text_mode_prints_citations() -> None:
    result = run_cli("repl", stdin="how many stabbings?\n")
    assert "Answer: 72" in result.stdout
    assert "[met-police-nypd-visit ¶9 s15]" in result.stdout


def test_quotebot_with_no_arguments_is_the_repl() -> None:
    result = run_cli(stdin="how many stabbings?\nWhat is the capital of France?\n")
    assert result.returncode == 0
    assert "Answer: 72" in result.stdout
    assert "The article doesn't say." in result.stdout
