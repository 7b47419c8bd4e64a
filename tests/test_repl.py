"""The REPL with piped input: one question per line, JSON Lines out, conversation kept."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_main


def jsonl(stdin: str, *args: str) -> list[dict]:  # type: ignore[type-arg]
    result = run_main("repl", "--json", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_one_json_object_per_question_and_follow_ups_carry_over() -> None:
    out = jsonl("Who is the deputy mayor for policing?\nWhat did she say?\n"
                "how many offences?\nmore\n")
    assert len(out) == 4
    assert "Sophie Linden" in out[0]["quotes"][0]["text"]
    assert out[1]["resolved_question"] == "What did Sophie Linden say?"
    assert out[1]["quotes"][0]["text"].startswith("Ms Linden said")
    assert "15,000 offences" in out[2]["quotes"][0]["text"]
    # "more" continues the question before it. (Comparing its quotes with the answer's
    # proved nothing: the article has no fourth passage about offences, so "more" has
    # none; tests/test_follow_ups.py pages through a longer answer.)
    assert out[3]["resolved_question"] == "how many offences?"


def test_blank_lines_are_skipped_and_bad_lines_get_the_error_shape() -> None:
    out = jsonl("\n   \n???\nhow many offences?\n\n")
    assert len(out) == 2
    assert out[0]["error"]["code"] == "no_words"
    assert out[1]["answer"] == "15,000"


def test_sources_help_and_quit() -> None:
    out = jsonl(":sources\n:help\n:quit\nhow many stabbings?\n")
    assert out[0]["documents"][0]["doc"] == "met-police-nypd-visit"
    assert "more" in out[1]["help"]
    assert len(out) == 2  # nothing after :quit


def test_text_mode_prints_citations() -> None:
    result = run_main("repl", stdin="how many offences?\n")
    assert "Answer: 15,000" in result.stdout
    assert "[met-police-nypd-visit ¶9 s16]" in result.stdout


def test_quotebot_with_no_arguments_is_the_repl() -> None:
    result = run_main(stdin="how many offences?\nWhat is the capital of France?\n")
    assert result.returncode == 0
    assert "Answer: 15,000" in result.stdout
    assert "The article doesn't say." in result.stdout


OWN = Path(__file__).resolve().parent / "fixtures" / "own-articles"


def test_piped_text_echoes_each_question_and_shows_every_rewrite() -> None:
    result = run_main("repl", "--corpus", str(OWN), "--semantic", "off",
                     stdin="Who is Karin Ek?\n\nwhat did she say?\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    asked = [line for line in lines if line.startswith("quotebot> ")]
    assert asked == ["quotebot> Who is Karin Ek?", "quotebot> what did she say?"]
    after = lines[lines.index("quotebot> what did she say?") + 1]
    assert after == "(understood as: what did Karin Ek say?)"


def test_unknown_colon_commands_are_errors_that_list_the_commands() -> None:
    text = run_main("repl", "--semantic", "off", stdin=":foo\n").stdout
    assert "Error: Unknown command ':foo'" in text
    for command in (":sources", ":doc", ":new", ":help", ":quit"):
        assert command in text
    assert "The article doesn't say" not in text
    out = jsonl(":foo\n", "--semantic", "off")
    assert out == [{"error": {"code": "unknown_command", "message": out[0]["error"]["message"]}}]


def test_more_after_new_says_there_is_nothing_to_continue() -> None:
    text = run_main("repl", "--semantic", "off", stdin="how many stabbings?\n:new\nmore\n").stdout
    tail = text.split("quotebot> more\n", 1)[1]
    assert tail.startswith("Nothing to continue")
    assert "The article doesn't say" not in tail


def test_doc_answers_from_one_article_until_cleared() -> None:
    out = jsonl(":doc cup-final.txt\nwho said\n:doc\nwho said\n:doc nope\n",
                "--corpus", str(OWN), "--semantic", "off", "-k", "5")
    assert out[0] == {"doc": "cup-final"}
    assert {q["doc"] for q in out[1]["quotes"]} == {"cup-final"}
    assert out[2] == {"doc": None}
    assert len({q["doc"] for q in out[3]["quotes"]}) > 1
    assert out[4]["error"]["code"] == "unknown_document"
    started = jsonl("who said\n", "--corpus", str(OWN), "--semantic", "off", "-k", "5",
                    "--doc", "battery-jobs")
    assert {q["doc"] for q in started[0]["quotes"]} == {"battery-jobs"}


def test_save_to_a_json_file_writes_each_question_with_its_answer(tmp_path: Path) -> None:
    (tmp_path / "seal.md").write_text(
        "# Harbour seal\n\nSurveys counted 205,000 harbour seals in Alaska in 2018.\n\n"
        "Seals haul out on rocky shores.\n", encoding="utf-8")
    saved = tmp_path / "talk.JSON"
    out = jsonl(f"How many harbour seals?\nWhere do seals haul out?\n:save {saved}\n",
                "--corpus", str(tmp_path), "--semantic", "off")
    assert out[2] == {"saved": str(saved), "questions": 2}
    turns = json.loads(saved.read_text(encoding="utf-8"))["turns"]
    assert [t["question"] for t in turns] == ["How many harbour seals?",
                                              "Where do seals haul out?"]
    assert [t["answer"] for t in turns] == out[:2]  # what the REPL printed, whole


def test_save_writes_the_conversation_as_markdown_with_its_citations(tmp_path: Path) -> None:
    (tmp_path / "seal.md").write_text(
        "---\ntitle: Harbour seal\nurl: https://example.org/wiki/Harbour_seal\n---\n"
        "# Harbour seal\n\n## Population\n\nSurveys counted 205,000 harbour seals in "
        "*Alaska* <b>in 2018</b>.\n", encoding="utf-8")
    kept = tmp_path / "kept.md"
    kept.write_text("my own notes\n", encoding="utf-8")
    saved = tmp_path / "talk.md"
    out = jsonl(f"How many harbour seals?\nWhat is the capital of France?\n:save {saved}\n"
                f":save {kept}\n:save\nmore\n:save {saved}\n", "--corpus", str(tmp_path),
                "--semantic", "off")
    assert out[2] == {"saved": str(saved), "questions": 2}
    assert out[3]["error"]["code"] == "file_exists" and "kept.md" in out[3]["error"]["message"]
    assert out[4]["error"]["code"] == "missing_file_name"
    assert out[6] == {"saved": str(saved), "questions": 3}  # its own file it writes again
    assert kept.read_text(encoding="utf-8") == "my own notes\n"
    quote = out[0]["quotes"][0]
    lines = saved.read_text(encoding="utf-8").split("\n")
    short = [f"**{out[0]['answer']}**", ""] if out[0]["answer"] else []
    assert lines[:7 + len(short)] == [
        "# quotebot conversation", "",
        "## How many harbour seals?", "", *short,
        r"> Surveys counted 205,000 harbour seals in \*Alaska\* \<b\>in 2018\</b\>.",
        ">",
        "> — [Harbour seal › Population ¶ 3](<https://example.org/wiki/Harbour_seal>) · "
        f"seal, characters {quote['start']}–{quote['end']}",
    ]
    france = lines.index("## What is the capital of France?")
    assert lines[france + 1:france + 3] == ["", "*The article doesn't say.* " + out[1]["reason"]]
    assert "## more" in lines[france:]


def test_save_to_a_name_no_file_can_have_is_an_error_and_the_conversation_goes_on(
        tmp_path: Path) -> None:
    (tmp_path / "seal.md").write_text("Seals haul out on rocky shores.\n", encoding="utf-8")
    folder = tmp_path / "notes"
    folder.mkdir()
    names = [tmp_path / ("a" * 300 + ".md"), f"{tmp_path}/bad\0name.md", f"{folder}/",
             folder, f"{tmp_path}/new-folder/", tmp_path / ".json"]
    out = jsonl("Where do seals haul out?\n" + "".join(f":save {n}\n" for n in names)
                + "more\n", "--corpus", str(tmp_path), "--semantic", "off")
    assert len(out) == 2 + len(names)  # every :save answered, and the REPL asked "more"
    codes = [line["error"]["code"] for line in out[1:-1]]
    assert codes == ["cannot_write", "cannot_write", "file_is_folder", "file_is_folder",
                     "file_is_folder", "missing_file_name"]
    assert out[-1]["question"] == "more"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "seal.md"]
    assert list(folder.iterdir()) == []


def test_a_new_conversation_never_saves_over_the_last_ones_file(tmp_path: Path) -> None:
    (tmp_path / "seal.md").write_text("Seals haul out on rocky shores.\n", encoding="utf-8")
    talk = tmp_path / "talk.md"
    out = jsonl(f"Where do seals haul out?\n:save {talk}\n:new\nWhat do seals do?\n"
                f":save {talk}\n", "--corpus", str(tmp_path), "--semantic", "off")
    assert out[1] == {"saved": str(talk), "questions": 1}
    assert out[4]["error"]["code"] == "file_exists"
    assert "## Where do seals haul out?" in talk.read_text(encoding="utf-8")


def test_answers_wrap_to_the_terminals_width_and_never_inside_a_word(tmp_path: Path) -> None:
    article = tmp_path / "ferry.txt"
    article.write_text("Ferry news\nThe harbour master said the ferry would carry passengers "
                       "again on Monday, after the Kelsey-Bay-to-Northport-and-back-again "
                       "crossing was closed for six weeks of repairs to its engine and hull.\n",
                       encoding="utf-8")
    for columns, width in (("50", 50), (None, 80)):  # 80 when the width is unknown
        shown = run_main("repl", "--corpus", str(article), "--semantic", "off",
                         stdin="When will the ferry carry passengers?\n",
                         env={"COLUMNS": columns})
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()[1:]  # after the question echoed at the prompt
        assert lines and all(len(line) <= width for line in lines), shown.stdout
        assert max(len(line) for line in lines) > width - 15  # the width is used, too
        words = " ".join(line.strip() for line in lines).split()
        assert "Kelsey-Bay-to-Northport-and-back-again" in words and "hull." in words


def test_doc_takes_the_start_of_an_id_and_names_the_ids_it_could_be(tmp_path: Path) -> None:
    (tmp_path / "eastbrook-budget.txt").write_text(
        "Budget\nThe council voted to close the libraries in March.\n", encoding="utf-8")
    (tmp_path / "eastbrook-ferry.txt").write_text(
        "Ferry\nThe ferry returns on Monday.\n", encoding="utf-8")
    out = jsonl(":doc eastbrook\n:doc eastbrook-b\nwhen will the libraries close?\n",
                "--corpus", str(tmp_path), "--semantic", "off")
    assert out[0]["error"]["code"] == "unknown_document"
    assert "eastbrook-budget, eastbrook-ferry" in out[0]["error"]["message"]
    assert out[1] == {"doc": "eastbrook-budget"}
    assert {q["doc"] for q in out[2]["quotes"]} == {"eastbrook-budget"}
