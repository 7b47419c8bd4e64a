"""The README's commands stay honest: CI runs its test command, and its transcript is real."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, run_cli, run_main

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(b.strip() for b in fenced_blocks(README) if "pytest" in b
                        and "[test]" in b)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_the_install_command_starts_the_repl_on_the_default_article() -> None:
    first_screen = README[:2500]
    assert "pip install -e . && quotebot" in first_screen
    assert "pip install -e '.[test]' && pytest" in first_screen


def test_the_ask_transcript_is_what_quotebot_prints() -> None:
    block = next(b for b in fenced_blocks(README) if b.startswith('$ quotebot ask "how many'))
    command, *expected = block.rstrip("\n").split("\n")
    assert command == '$ quotebot ask "how many stabbings?"'
    printed = run_cli("ask", "how many stabbings?", "--no-color").stdout.rstrip("\n")
    assert printed.split("\n") == expected


def test_the_real_session_is_what_the_repl_prints() -> None:
    """The session under "A real session": each turn's lines are the first lines the REPL
    prints for it ("…" leaves out the rest of a turn)."""
    block = next(b for b in fenced_blocks(README) if b.startswith("$ quotebot\n"))
    turns = re.split(r"\n(?=quotebot> )", block.rstrip("\n"))[1:]
    questions = [t.split("\n", 1)[0].removeprefix("quotebot> ") for t in turns]
    printed = run_main("repl", "--no-color", stdin="\n".join(questions) + "\n").stdout
    real = re.split(r"\n+(?=quotebot> )", printed.rstrip("\n"))
    assert len(real) == len(turns) == 3
    for shown, said in zip(turns, real, strict=True):
        lines = shown.rstrip("\n").split("\n")
        if lines[-1] == "…":
            lines = lines[:-1]
        assert said.split("\n")[:len(lines)] == lines


def test_the_json_example_matches_a_real_answer() -> None:
    import json

    block = next(b for b in fenced_blocks(README) if b.lstrip().startswith('{\n  "question"'))
    example = json.loads(block)
    real = json.loads(run_cli("ask", "how many stabbings?", "--json").stdout)
    assert example["quotes"][0] == real["quotes"][0]
    assert {k: v for k, v in example.items() if k != "quotes"} == {
        k: v for k, v in real.items() if k != "quotes"}


def test_the_readmes_commands_need_nothing_a_users_clone_lacks() -> None:
    """A command in the README runs in a fresh clone: it reads no folder beside the checkout
    (the project's data lives there for contributors; docs/quality.md says how to get it),
    and every repository file it names is in the clone."""
    commands = [line for block in fenced_blocks(README) for line in block.splitlines()]
    commands += [" ".join(span.split()) for span in re.findall(
        r"`((?:quotebot|python|pytest)[^`]*)`", README)]  # a span may wrap onto the next line
    outside = [c for c in commands if re.search(r"\.\./|/work/|\bshared/", c)]
    assert outside == []
    named = {path for c in commands for path in re.findall(
        r"(?<![\w/.~-])((?:index|benchmarks|examples|docs|tests)/[\w./-]+\.\w+)", c)}
    assert named and [p for p in sorted(named) if not (ROOT / p).exists()] == []
    assert "docs/quality.md" in README and (ROOT / "docs" / "quality.md").is_file()


def test_the_commands_table_names_every_command_the_web_pages_address_and_private_links(
        ) -> None:
    from quotebot.cli import main

    table = [line for line in README.splitlines() if line.startswith("| `quotebot")]
    assert {name for line in table for name in re.findall(r"`quotebot (\w+)", line)} == set(
        main.commands)
    rows = {re.findall(r"`quotebot (\w+)", line)[-1]: line for line in table}
    assert "QUOTEBOT_ALLOW_PRIVATE_URLS=1" in rows["add"]
    serve = {p.name: p.default for p in main.commands["serve"].params}
    address = f"<http://{serve['host']}:{serve['port']}/>"
    assert address in rows["serve"]
    # The first screen, before any section, says how to reach the page and the bot.
    first_screen = README.split("\n## ", 1)[0]
    assert address in first_screen and "quotebot telegram" in first_screen
    assert "quotebot add" in first_screen
