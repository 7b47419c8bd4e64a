"""The CLI through its entry point, quotebot.cli.main, in this process: answers, JSON shape,
documents, indexes, errors. A process of its own where the process is the point: a port
already taken, a terminal's progress bar."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from quotebot.cli import main

from conftest import run_cli, run_main

QUOTE_KEYS = {"text", "doc", "title", "paragraph", "sentence", "start", "end", "score"}


def ask_json(*args: str) -> dict:  # type: ignore[type-arg]
    result = run_main("ask", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_how_many_offences_gives_15000_and_a_quote_that_slices_back() -> None:
    data = ask_json("how many offences?")
    assert data["answered"] is True and data["answer"] == "15,000"
    first = data["quotes"][0]
    assert "15,000 offences" in first["text"]
    shown = json.loads(run_main("show", "met-police-nypd-visit", "--json").stdout)
    assert set(shown) == {"doc", "title", "text"}
    assert shown["text"][first["start"]:first["end"]] == first["text"]
    assert shown["text"][data["answer_start"]:data["answer_end"]] == "15,000"


def test_the_json_shape_is_the_contract() -> None:
    data = ask_json("who went to New York?")
    assert isinstance(data["question"], str) and isinstance(data["answered"], bool)
    assert data["answer"] is None or isinstance(data["answer"], str)
    for quote in data["quotes"]:
        assert set(quote) == QUOTE_KEYS
        assert isinstance(quote["paragraph"], int) and isinstance(quote["sentence"], int)
        assert isinstance(quote["start"], int) and isinstance(quote["end"], int)
        assert isinstance(quote["score"], float) and quote["score"] > 0
    scores = [q["score"] for q in data["quotes"]]
    assert scores == sorted(scores, reverse=True)


def test_who_went_to_new_york_quotes_the_officers_or_the_representatives() -> None:
    first = ask_json("who went to New York?")["quotes"][0]["text"]
    assert first.startswith(("Senior Met police officers travelled",
                             "Representatives from Scotland Yard"))


def test_a_question_the_article_does_not_answer_is_not_answered() -> None:
    data = ask_json("What is the capital of France?")
    assert data["answered"] is False and data["quotes"] == [] and data["answer"] is None
    text = run_main("ask", "What is the capital of France?").stdout
    assert text.startswith("The article doesn't say.")


def test_text_mode_cites_and_highlights() -> None:
    plain = run_main("ask", "how many offences?", "--no-color").stdout
    assert "Answer: 15,000" in plain and "[met-police-nypd-visit ¶9 s16]" in plain
    assert "\x1b[" not in plain
    colored = run_main("ask", "how many offences?", "--color").stdout
    assert "\x1b[1;33moffences\x1b[0m" in colored


def test_k_larger_than_the_corpus_gives_every_matching_sentence_once() -> None:
    data = ask_json("London", "-k", "50")
    starts = [q["start"] for q in data["quotes"]]
    assert len(starts) == len(set(starts)) and 1 < len(starts) <= 18
    result = CliRunner().invoke(main, ["ask", "London", "-k", "500"])
    assert result.exit_code == 2 and "500" in result.output


def test_docs_and_show() -> None:
    docs = json.loads(run_main("docs", "--json").stdout)
    assert docs["documents"][0]["doc"] == "met-police-nypd-visit"
    assert docs["documents"][0]["sentences"] == 18
    assert "Senior Met police officers" in run_main("show", "met-police-nypd-visit").stdout


def test_your_own_articles_by_flag_and_by_environment(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "bridge.txt").write_text("The old bridge reopened on Monday after repairs.\n",
                                       encoding="utf-8")
    (folder / "notes.md").write_text("# Notes\n\nThe tunnel stays closed.\n", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG\x00\x00")
    by_flag = ask_json("when did the bridge reopen?", "--corpus", str(folder))
    assert by_flag["quotes"][0]["text"] == "The old bridge reopened on Monday after repairs."
    assert by_flag["quotes"][0]["doc"] == "bridge"
    by_env = run_main("docs", "--json", env={"QUOTEBOT_CORPUS": str(folder)})
    titles = {d["doc"]: d["title"] for d in json.loads(by_env.stdout)["documents"]}
    assert titles == {"bridge": "Bridge", "notes": "Notes"}


def test_index_then_ask_from_the_saved_index_alone(tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Volunteers planted 300 trees in the park.\n", encoding="utf-8")
    out = tmp_path / "idx"
    built = run_main("index", "--corpus", str(article), "--out", str(out), "--json")
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert (summary["documents"], summary["sentences"]) == (1, 1)
    article.unlink()  # the index holds the text: the corpus is no longer needed
    data = ask_json("how many trees were planted?", "--index", str(out))
    assert data["quotes"][0]["text"] == "Volunteers planted 300 trees in the park."
    extra = tmp_path / "b.txt"
    extra.write_text("The park opens on Saturday.\n", encoding="utf-8")
    assert run_main("index", "--out", str(out), "--add", str(extra)).returncode == 0
    assert ask_json("when does the park open?", "--index", str(out))["quotes"][0]["text"] == (
        "The park opens on Saturday.")
    assert run_main("index", "--out", str(out), "--remove", "a").returncode == 0
    assert json.loads(run_main("docs", "--json", "--index", str(out)).stdout)["documents"][0][
        "doc"] == "b"


def test_jobs_sets_the_processes_of_a_build_and_only_of_a_build(tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Volunteers planted 300 trees in the park.\n", encoding="utf-8")
    out = tmp_path / "idx"
    built = run_main("index", "--corpus", str(article), "--out", str(out), "--jobs", "2")
    assert built.returncode == 0, built.stderr
    assert ask_json("how many trees?", "--index", str(out))["quotes"][0]["text"] == (
        "Volunteers planted 300 trees in the park.")
    for wrong in (["--add", str(article)], ["--remove", "a"]):
        refused = run_main("index", "--out", str(out), "--jobs", "2", *wrong)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert "--jobs applies to building a whole index" in refused.stderr
    zero = run_main("index", "--corpus", str(article), "--out", str(out), "--jobs", "0")
    assert zero.returncode == 2 and "--jobs" in zero.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["ask", ""], "empty_question", "empty"),
        (["ask", "   "], "empty_question", "empty"),
        (["ask", "?!…"], "no_words", "no words"),
        (["ask", "x" * 100_000], "question_too_long", "100,000 characters"),
        (["ask", "hi", "--corpus", "/no/such/place"], "corpus_not_found", "does not exist"),
        (["ask", "hi", "--doc", "nope"], "unknown_document", "No document 'nope'"),
        (["show", "nope"], "unknown_document", "No document 'nope'"),
        (["ask", "x", "--index", "/no/such/index"], "index_missing", "quotebot index --out"),
    ],
)
def test_errors_are_one_clear_message_and_a_non_zero_exit(args: list[str], code: str,
                                                          needle: str) -> None:
    as_json = run_main(*args, "--json")
    assert as_json.returncode != 0
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == code and needle in error["message"]
    as_text = run_main(*args)
    assert as_text.returncode != 0
    assert as_text.stderr.startswith("Error: ") and needle in as_text.stderr
    assert "Traceback" not in as_text.stderr + as_text.stdout


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "corpus_empty"), (b"\x00\x01\x02binary\x00", "corpus_not_text"),
     (b"caf\xe9 au lait\n", "corpus_bad_encoding")],
    ids=["empty", "binary", "latin-1"],
)
def test_unusable_corpus_files_are_explained(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    result = run_main("ask", "anything", "--corpus", str(path), "--json")
    assert result.returncode != 0
    assert json.loads(result.stdout)["error"]["code"] == code
    assert "Traceback" not in result.stderr


def test_an_empty_folder_is_explained(tmp_path: Path) -> None:
    result = run_main("docs", "--corpus", str(tmp_path))
    assert result.returncode != 0 and "no .txt or .md files" in result.stderr


@pytest.mark.parametrize("command", ["ask", "repl", "show", "docs", "index", "eval", "serve",
                                     "telegram"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "quotebot " in result.output


# -- a first hour with one's own articles -------------------------------------------------------

OWN = Path(__file__).resolve().parent / "fixtures" / "own-articles"


def test_a_question_without_quotes_gets_the_command_to_type() -> None:
    result = run_main("ask", "who", "won", "the", "cup", "--corpus", str(OWN))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f'quotebot ask "who won the cup" --corpus {OWN}' in result.stderr
    bare = run_main("who", "won", "the", "cup")
    assert bare.returncode == 2 and 'quotebot ask "who won the cup"' in bare.stderr
    assert "Did you mean 'ask'" in run_main("aks", "who won?").stderr


def test_log_options_work_after_the_command_too(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text("The ferry sailed on Sunday.\n", encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"caf\xe9 au lait\n")
    for args in (["--log-format", "json", "docs", "--corpus", str(folder)],
                 ["docs", "--corpus", str(folder), "--log-format", "json"]):
        result = run_main(*args)
        assert result.returncode == 0, result.stderr
        line = json.loads(result.stderr.strip())  # the warning about bad.txt, as JSON
        assert line["level"] == "WARNING" and "bad.txt" in line["message"]
    quiet = run_main("docs", "--corpus", str(folder), "--log-level", "ERROR")
    assert quiet.returncode == 0 and quiet.stderr == ""
    serve_help = CliRunner().invoke(main, ["serve", "--help"])
    assert "--log-format" in serve_help.output


def test_a_folder_whose_only_file_is_not_utf8_gives_one_error(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 au lait\n")
    result = run_main("docs", "--corpus", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "not valid UTF-8" in result.stderr


def test_errors_name_the_option_or_variable_the_user_gave(tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Volunteers planted 300 trees.\n", encoding="utf-8")
    out = tmp_path / "idx"
    assert run_main("index", "--corpus", str(article), "--out", str(out),
                   "--semantic", "off").returncode == 0
    added = run_main("index", "--out", str(out), "--add", str(tmp_path / "missing.txt"))
    assert added.returncode == 1 and "--add" in added.stderr and "--corpus" not in added.stderr
    by_env = run_main("docs", env={"QUOTEBOT_CORPUS": str(tmp_path / "gone")})
    assert by_env.returncode == 1 and "QUOTEBOT_CORPUS" in by_env.stderr
    assert "--corpus" not in by_env.stderr


def test_show_takes_the_file_name_or_path_of_a_document() -> None:
    by_id = run_main("show", "cup-final", "--corpus", str(OWN))
    assert by_id.returncode == 0 and by_id.stdout.startswith("Harbour City win")
    for name in ("cup-final.txt", str(OWN / "cup-final.txt")):
        result = run_main("show", name, "--corpus", str(OWN))
        assert result.returncode == 0, result.stderr
        assert result.stdout == by_id.stdout
    missing = run_main("show", "final.txt", "--corpus", str(OWN))
    assert missing.returncode == 1 and "cup-final" in missing.stderr  # lists the known ones


def test_doc_asks_one_article_of_a_folder() -> None:
    data = ask_json("who said", "-k", "5", "--semantic", "off", "--corpus", str(OWN),
                    "--doc", "tram-extension.txt")
    assert data["quotes"] and {q["doc"] for q in data["quotes"]} == {"tram-extension"}
    unknown = run_main("ask", "who said", "--corpus", str(OWN), "--doc", "nope", "--json")
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["error"]["code"] == "unknown_document"


def test_version_has_a_short_form() -> None:
    short = run_main("-V")
    assert short.returncode == 0 and ", version " in short.stdout
    assert short.stdout == run_main("--version").stdout


@pytest.mark.slow
def test_a_busy_port_is_one_line_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--semantic", "off", timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: Cannot listen on 127.0.0.1:{port}: another program is using it. Stop it, "
        f"or choose another port with --port."]


def test_quick_work_is_quiet_and_long_work_says_once_what_it_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On stderr that is not a terminal, a build over the delay gets one line."""
    from quotebot.indexing import ProgressLine

    quick = ProgressLine("indexing", True, delay=60, live=False, documents=lambda: 3)
    quick(10, 1)
    long = ProgressLine("indexing", True, delay=0, live=False, documents=lambda: 25_000)
    for done in range(1, 4):
        long(done * 100, done)
    embedding = ProgressLine("embedding", True, "passages", delay=0, live=False)
    embedding(64, 3000)
    embedding(128, 3000)
    assert capsys.readouterr().err == "indexing 25,000 documents…\nembedding 3,000 passages…\n"
    fresh = run_main("docs", "--corpus", str(OWN), env={"XDG_CACHE_HOME": str(tmp_path)})
    assert fresh.returncode == 0 and fresh.stderr == ""  # three articles build in no time


def on_a_terminal(*args: str) -> tuple[int, str, bytes]:
    """``quotebot ARGS`` with stderr on a terminal of 24 rows of 100 and stdout a pipe: its
    exit status, what the terminal showed, and stdout."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen([sys.executable, "-m", "quotebot", *args],
                                   stdout=subprocess.PIPE, stderr=follower)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stdout, _ = process.communicate(timeout=300)
    finally:
        os.close(leader)
    return process.returncode, shown.decode("utf-8", "replace"), stdout


def ferry_stories(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"story-{n}.txt").write_text("".join(
            f"Story {n} says the ferry carried {n * k} passengers in week {k} of the year.\n"
            for k in range(60)), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_a_long_build_on_a_terminal_shows_a_progress_bar_on_one_line(tmp_path: Path) -> None:
    corpus = ferry_stories(tmp_path / "articles", 1500)  # a few seconds of work
    # One process, which reports each document: a pool reports each chunk of 4M characters,
    # and this corpus's two chunks end together on two cores.
    status, text, stdout = on_a_terminal("index", "--corpus", str(corpus), "--out",
                                         str(tmp_path / "index"), "--semantic", "off",
                                         "--jobs", "1")
    assert status == 0
    assert "indexing:" in text and "%|" in text and "doc/s" in text  # tqdm's bar and rate
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, ", text)  # time taken, then time left
    assert "\n" not in text  # redrawn in place on one line, and cleared at the end
    assert stdout.startswith(b"Indexed 1,500 documents")


@pytest.mark.slow
def test_adding_on_a_terminal_shows_its_steps_and_the_embedding_bar_on_one_line(
        tmp_path: Path) -> None:
    folder = ferry_stories(tmp_path / "stories", 12)  # seconds of embedding
    status, text, stdout = on_a_terminal("add", str(folder), "--to", str(tmp_path / "lib"),
                                         "--semantic", "on")
    assert status == 0, text
    assert "embedding:" in text and "passage/s" in text and "%|" in text
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, ", text)
    assert "\n" not in text  # steps and bars share one line, cleared at the end
    assert text.endswith("\r\x1b[K") or text.rstrip(" ").endswith("\r")
    assert stdout.decode().count("\nAdded story-") == 11
    # Piped, the same add says what it does once per step and draws no bar.
    again = run_main("add", str(folder), "--to", str(tmp_path / "piped"), "--semantic", "on")
    assert again.returncode == 0 and "%|" not in again.stderr and "\r" not in again.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("columns", "width"), [(None, 80), ("60", 60), ("120", 120)])
def test_answers_wrap_to_the_terminal_and_never_inside_a_word(
        tmp_path: Path, columns: str | None, width: int) -> None:
    import os

    article = tmp_path / "article.txt"
    article.write_text("Ferry news\nThe harbour master said the ferry would carry passengers "
                       "again on Monday, after the Kelsey-Bay-to-Northport-and-back-again "
                       "crossing was closed for six weeks of repairs to its engine and hull.\n",
                       encoding="utf-8")
    # A process: the width when COLUMNS is unset comes from the process's own stdout.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    shown = run_cli("ask", "When will the ferry carry passengers?", "--corpus", str(article),
                    "--no-color", "--semantic", "off", env=env)
    assert shown.returncode == 0, shown.stderr
    quote_lines = [line for line in shown.stdout.splitlines() if not line.startswith(
        ("   [", "Answer:"))]
    assert all(len(line) <= width for line in quote_lines), shown.stdout
    words = " ".join(line.removeprefix("1. ").strip() for line in quote_lines).split()
    assert "Kelsey-Bay-to-Northport-and-back-again" in words  # never broken
    assert len(quote_lines) >= (3 if width == 60 else 2) or width == 120


def test_an_empty_question_is_told_so_without_naming_an_article_it_may_not_have(
        tmp_path: Path) -> None:
    article = tmp_path / "harbour.txt"
    article.write_text("The harbour wall was rebuilt in 2024.\n", encoding="utf-8")
    for question in ("", "?!"):
        result = CliRunner().invoke(main, ["ask", question, "--corpus", str(article)])
        assert result.exit_code != 0
        assert "who, what, when, where, how many" in result.output
        assert "stabbings" not in result.output and "New York" not in result.output
