"""Robustness: concurrent indexing, structured logs with request ids, lean start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from quotebot.store import current_generation, load_index

from conftest import run_cli
from servers import serve

pytestmark = pytest.mark.slow


def test_two_index_runs_at_once_leave_one_valid_index(tmp_path: Path) -> None:
    """Catches: two `quotebot index` runs into one folder that corrupt each other's files
    or leave CURRENT pointing at a half-written generation. (Semantic vectors are off:
    embedding 2,000 sentences twice was 90 % of the time and is not what races here.)"""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(40):
        (corpus / f"story-{n}.txt").write_text(
            "\n".join(f"Story {n} paragraph {p} mentions the harbour and {n * p} boats."
                      for p in range(50)), encoding="utf-8")
    out = tmp_path / "index"
    runs = [subprocess.Popen([sys.executable, "-m", "quotebot", "index", "--corpus",
                              str(corpus), "--out", str(out), "--semantic", "off"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for run in runs:
        assert run.wait(120) == 0, run.stderr.read() if run.stderr else ""
    index = load_index(out)
    assert len(index.docs) == 40 and index.n_sentences == 2000
    assert current_generation(out).name.startswith("gen-")
    answer = json.loads(run_cli("ask", "how many boats in story 3?", "--index", str(out),
                                "--json", "--semantic", "off").stdout)
    assert answer["answered"]
    assert answer["quotes"][0]["doc"] == "story-3"


def test_json_logs_carry_the_request_id_on_every_line_of_a_request() -> None:
    with serve("--log-format", "json", "--log-level", "INFO",
               env={"QUOTEBOT_SEMANTIC": "off"}) as server:
        request = urllib.request.Request(
            server.url + "/v1/ask", data=b'{"question": "how many stabbings?"}',
            headers={"Content-Type": "application/json", "X-Request-Id": "trace-42"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["X-Request-Id"] == "trace-42"
        lines = [json.loads(line) for line in server.log().splitlines()
                 if line.startswith("{")]
    assert lines, "no JSON log lines"
    mine = [line for line in lines if line.get("request_id") == "trace-42"]
    assert mine and all({"time", "level", "logger", "message"} <= set(line) for line in mine)
    assert any("POST /v1/ask -> 200" in line["message"] for line in mine)


def test_quotebot_ask_does_not_load_the_network_stack() -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "quotebot", "ask",
                             "how many stabbings?"], capture_output=True, text=True,
                            timeout=60, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in
                result.stderr.splitlines() if line.startswith("import time:")}
    assert "quotebot" in imported
    assert not imported & {"aiohttp", "telegram", "httpx", "redis", "prompt_toolkit"}


def test_a_ten_megabyte_paragraph_does_not_stop_the_rest_of_its_folder(tmp_path: Path) -> None:
    """A 10 MB file with no sentence end (a log, a dump) in a folder of articles: the folder
    loads, the article beside it is answered, and no regex time-out aborts the build."""
    words = ("harbour", "ferry", "council", "river", "budget", "school", "station", "market")
    (tmp_path / "dump.txt").write_text(
        " ".join(f"{words[i % 8]}{i % 97}" for i in range(1_200_000)), encoding="utf-8")
    assert (tmp_path / "dump.txt").stat().st_size > 10_000_000
    (tmp_path / "tram.txt").write_text(
        "Tram News\n\nCouncillor Karin Ek said the tram line would open in 2027.\n",
        encoding="utf-8")
    done = run_cli("ask", "When does the tram line open?", "--corpus", str(tmp_path),
                   "--semantic", "off", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "open in 2027" in answer["quotes"][0]["text"] and answer["quotes"][0]["doc"] == "tram"
    assert "Traceback" not in done.stderr
