"""The documentation a new user follows works from a fresh clone: every ```sh command of
README.md and docs/*.md runs (except the few listed below, each with why), the JSON keys
the README names are the ones quotebot prints, and the transcripts are real output."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from quotebot.engine import QuoteEngine

from conftest import ROOT, run_main

pytestmark = pytest.mark.slow

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Commands a test cannot run, by a pattern each, with the reason.
NOT_RUN = {
    r"\bpip install\b": "installs packages from PyPI: needs the network",
    r"(^|&& )pytest$": "the test suite itself, which runs this test",
    r"^pytest -m ": "a tier of the test suite, whose tests the whole suite runs anyway",
    r"\bquotebot telegram\b": "talks to Telegram's Bot API: needs the network and a real "
                              "bot token",
    r"deploy/set-webhook\.sh": "registers a webhook with Telegram: needs the network and a "
                               "real bot token",
    r"^quotebot serve\b": "serves until stopped, on the fixed port 8080; "
                          "tests/test_http_api.py runs the same API on a free port",
    r"^curl .*localhost:8080": "asks the server that `quotebot serve` starts",
    r"\bcaddy run\b": "serves until stopped, on ports 80 and 443; tests/test_proxy.py runs "
                      "Caddy with the same configuration on free ports",
    r"\bdocker compose\b": "needs Docker",
    r"^sudo ": "installs system-wide as root, for systemd",
    r"^journalctl\b": "reads the systemd journal of the installed service",
    r"deploy/quotebot\.env\b": "writes or reads the deployment's secrets file, for Docker or "
                               "systemd",
    r"^python benchmarks/": "a benchmark: minutes of CPU on an idle machine; its figures are "
                            "in docs/performance.md",
    r"\bbenchmarks/mutation\.sh\b": "the mutation check: minutes of CPU per module; its "
                                   "scores are in docs/testing.md",
    r"\bmutmut show\b": "shows a mutant of a mutation run, which must have run first",
    r"\bsquad/": "reads SQuAD articles a reader downloads first, as docs/quality.md says",
}


def sh_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [c for c in (_without_comment(line).strip() for line in joined.splitlines()) if c]


def _without_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def reason_not_run(command: str) -> str | None:
    return next((why for pattern, why in NOT_RUN.items() if re.search(pattern, command)), None)


BLOCKS = [(path, n, block) for path in DOCS for n, block in enumerate(sh_blocks(path), 1)]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home folder of its own (commands write ~/articles.idx), shared by the blocks in
    order, as one reader's shell would be."""
    return tmp_path_factory.mktemp("home")


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("path", "n", "block"), BLOCKS,
                         ids=[f"{p.relative_to(ROOT)}#{n}" for p, n, _ in BLOCKS])
def test_every_documented_command_runs(path: Path, n: int, block: str, home: Path) -> None:
    env = {**os.environ, "HOME": str(home),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    ran, skipped = 0, []
    for command in commands(block):
        why = reason_not_run(command)
        if why is not None:
            skipped.append(f"{command!r}: {why}")
            continue
        result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, text=True,
                                capture_output=True, stdin=subprocess.DEVNULL, timeout=600,
                                check=False)
        assert result.returncode == 0, (
            f"{path.name} block {n}: `{command}` exited {result.returncode}\n"
            f"{result.stderr[-2000:]}")
        assert "Traceback" not in result.stderr
        ran += 1
    if not ran:
        pytest.skip("; ".join(skipped))


def test_every_reason_not_to_run_a_command_is_still_needed() -> None:
    documented = [c for _, _, block in BLOCKS for c in commands(block)]
    for pattern in NOT_RUN:
        assert any(re.search(pattern, c) for c in documented), f"unused: {pattern}"


def test_the_docs_point_at_nothing_a_clone_lacks() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in sh_blocks(path):
            assert "../shared" not in block, f"{path.name}: {block}"
        for target in re.findall(r"\]\(((?!https?:|#)[^)#]+)", text):
            assert (path.parent / target).exists(), f"{path.name} links to {target}"


# -- what the README shows is what quotebot prints ---------------------------------------------


README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_json_keys_the_readme_names_are_the_ones_quotebot_prints(tmp_path: Path,
                                                                   gate_open: None) -> None:
    """Catches a key spelt differently in the README ("searched for") than in the JSON
    (``searched_for``). Every short answer found is shown, so that its keys are printed."""
    section = _section("The JSON answer")
    spans = re.findall(r"`([^`\n]+)`", section)
    named = {k for span in spans for k in re.findall(r'"([A-Za-z_ ]+)"\s*:', span)}
    named |= {span for span in spans if re.fullmatch(r"[a-z]+(?:_[a-z]+)+|[a-z]+", span)}
    named |= _keys(json.loads(re.search(r"```json\n(.*?)```", section, re.S)[1]))  # type: ignore[index]
    real: set[str] = set()
    for question in ("how many stabings?", "What is the capital of France?"):
        real |= _keys(json.loads(run_main("ask", question, "--json", "--semantic",
                                          "off").stdout))
    turns = run_main("repl", "--json", "--semantic", "off",
                    stdin="Who is the deputy mayor for policing?\nWhat did she say?\n")
    for line in turns.stdout.splitlines():
        real |= _keys(json.loads(line))
    real |= _keys(json.loads(run_main("show", "met-police-nypd-visit", "--json").stdout))
    real |= _keys(json.loads(run_main("show", "nope", "--json").stdout))
    # A document from a link, with sections: its quotes carry both.
    (tmp_path / "seal.md").write_text(
        "---\ntitle: Harbour seal\nurl: https://example.org/seal\n---\n# Harbour seal\n\n"
        "## Population\n\nSurveys counted 205,000 harbour seals in Alaska.\n", encoding="utf-8")
    real |= _keys(json.loads(run_main("ask", "How many harbour seals?", "--json", "--corpus",
                                     str(tmp_path / "seal.md"), "--semantic", "off").stdout))
    words = {"null", "true", "false"}  # JSON values the section names, not keys
    assert named - words <= real, f"named in the README but never printed: {named - real}"
    assert {"searched_for", "resolved_question", "closest", "reason"} <= named


def test_the_own_articles_transcript_is_what_quotebot_prints() -> None:
    block = next(b for b in re.findall(r"```text\n(.*?)```", README, re.S)
                 if b.startswith("$ quotebot repl --corpus examples/articles"))
    command, *shown = block.rstrip("\n").split("\n")
    # The first two lines greet a terminal; piped input gets the rest, prompt for prompt.
    assert shown[0].startswith("quotebot — 3 document(s), 25 sentences")
    shown = shown[2:]
    questions = [line.removeprefix("quotebot> ") for line in shown
                 if line.startswith("quotebot> ")]
    result = run_main(*command.split()[2:], "--no-color", stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n").split("\n") == shown


def test_the_add_transcript_is_what_quotebot_prints(tmp_path: Path) -> None:
    """`quotebot add … --to ~/library` then `quotebot ask … --corpus ~/library`, as shown,
    from a local page (no network)."""
    block = next(b for b in re.findall(r"```text\n(.*?)```", README, re.S)
                 if b.startswith("$ quotebot add "))
    env = {"HOME": str(tmp_path)}
    ran = 0
    for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
        command, *shown = part.rstrip("\n").split("\n")
        args = shlex.split(command.replace("~", str(tmp_path)))
        assert args[0] == "quotebot"
        result = run_main(*args[1:], env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.replace(str(tmp_path), "~").rstrip("\n").split("\n") == shown
        ran += 1
    assert ran == 3


def test_the_scaling_example_query_is_the_plan_quotebot_makes() -> None:
    """docs/scaling.md turns a question into a search cluster's query: the terms and boosts
    must be quotebot's own plan, and the question one quotebot answers right."""
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    question = re.search(r'On the default article, "([^"]+)"', text)[1]  # type: ignore[index]
    quoted = re.search(r'answers by quoting "([^"…]+)…"', text)[1]  # type: ignore[index]
    body = re.search(r"POST /quotebot-sentences/_search[^\n]*\n(.*?)```", text, re.S)[1]  # type: ignore[index]
    clauses = json.loads(body)["query"]["bool"]["should"]
    shown = [[(q["term"]["text"]["value"], q["term"]["text"]["boost"])
              for q in clause["dis_max"]["queries"]] for clause in clauses]
    engine = QuoteEngine.open(semantic="off")
    plan = engine.plan(question)
    assert shown == [[(engine.index.term(t), round(w, 4)) for t, w in group]
                     for group in plan.groups()]
    real = run_main("ask", question, "--json")
    assert json.loads(real.stdout)["quotes"][0]["text"].startswith(quoted.rstrip(", "))
