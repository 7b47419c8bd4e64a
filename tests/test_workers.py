"""`quotebot serve --workers N`: several answering processes on one port, one supervisor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import requires
from fake_bot_api import free_port
from servers import redis_server, stop, wait_http

pytestmark = pytest.mark.slow


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str, data: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def workers_seen(url: str, seconds: float = 60) -> set[int]:
    """The worker numbers that answer /healthz over new connections, until two have (a
    worker started a moment ago may still be opening the index)."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(get(url + "/healthz")["worker"])
    return seen


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as fh:
        return [int(p) for p in fh.read().split()]


@requires("redis-server")
def test_two_workers_share_the_port_conversations_and_a_clean_stop() -> None:
    """Catches: workers that do not share the port (one never answers), conversations that
    a follow-up on another worker cannot see, a worker that is not started again when it
    dies, and a stop that leaves workers behind."""
    port = free_port()
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115
    with redis_server() as redis:
        env = dict(os.environ, QUOTEBOT_SEMANTIC="off", QUOTEBOT_RATE_LIMIT_IP="0",
                   QUOTEBOT_REDIS_URL=redis.extra["url"], PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, "-m", "quotebot", "serve", "--port",
                                 str(port), "--workers", "2"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/healthz", 60, proc)
            deadline = time.monotonic() + 60
            while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert workers_seen(url) == {0, 1}
            # A conversation started on one worker goes on wherever the next request lands.
            # (Words alone find Sophie Linden sure enough to follow "she" from this question;
            # from "Who is the deputy mayor for policing?" only with a probability under the
            # conversation's lead.)
            first = post(url + "/v1/ask", {"question": "Who met senior NYPD officials?"})
            assert "Sophie Linden" in first["quotes"][0]["text"]
            resolved = {post(url + "/v1/ask", {"question": "What did she say?",
                                               "session": first["session"]}
                             )["resolved_question"] for _ in range(6)}
            # Whichever worker takes a follow-up reads "she" from the conversation: the
            # person the first answer is about, by her name or, when the short answer is too
            # unsure to be shown, by the role asked about (the same on every worker).
            assert len(resolved) == 1
            assert resolved <= {"What did Sophie Linden say?", "What did the deputy mayor say?"}
            # A worker that dies is started again.
            victim = children(proc.pid)[0]
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                alive = children(proc.pid)
                if len(alive) == 2 and victim not in alive:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"the killed worker was not replaced: {children(proc.pid)}")
            assert workers_seen(url) == {0, 1}
            workers = children(proc.pid)
        finally:
            code = stop(proc)
            log.close()
    output = Path(log.name).read_text(encoding="utf-8")
    assert code == 0, output
    for pid in workers:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text(encoding="utf-8").lower()
    assert "with 2 workers" in output and "Traceback" not in output


def test_workers_without_redis_say_what_they_do_not_share() -> None:
    port = free_port()
    env = dict(os.environ, QUOTEBOT_SEMANTIC="off", PYTHONUNBUFFERED="1")
    env.pop("QUOTEBOT_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "serve", "--port", str(port),
                             "--workers", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
    finally:
        stop(proc)
    output = proc.stdout.read() if proc.stdout else ""
    assert "do not share conversations" in output and "--redis-url" in output


def test_a_busy_port_is_one_line_with_workers_too() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "quotebot", "serve", "--port", str(port),
                                 "--workers", "2", "--redis-url", "redis://127.0.0.1:1/0"],
                                capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, QUOTEBOT_SEMANTIC="off"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: Cannot listen on 127.0.0.1:{port}: another program is using it. Stop it, "
        f"or choose another port with --port."]


#: A supervisor of three workers that wait for SIGTERM, then stop with the exit code
#: given for their number (a worker crashing while it stops exits with 3).
SUPERVISOR = """
import signal, sys, time
from quotebot.bot.workers import serve_workers

codes = [int(c) for c in sys.argv[1].split(",")]

def run_worker(number, ready):
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    ready()
    print("worker", number, "ready", flush=True)
    while not stopping:
        time.sleep(0.02)
    return codes[number]

sys.exit(serve_workers(len(codes), run_worker, shutdown_timeout=5.0))
"""


def stop_supervisor(codes: str) -> int:
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, codes], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        for _ in codes.split(","):
            assert "ready" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_worker_that_crashes_while_stopping_shows_in_the_exit_code() -> None:
    assert stop_supervisor("0,0,0") == 0
    assert stop_supervisor("0,3,0") == 1
    assert stop_supervisor("0,0,3") == 1
