"""The processes tests start (tests/servers.py) end with the test run, however it ends: a
run killed outright leaves no `quotebot serve` or `redis-server` behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import requires
from servers import descendants, wait_until

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent

#: A test run in small: it starts one server, says its pid and those below it, and waits.
RUN = """
import sys, time
sys.path.insert(0, {tests!r})
import servers

with servers.{server}() as server:
    time.sleep(1.0)  # a server's own processes (workers) start
    pids = [server.proc.pid, *servers.descendants(server.proc.pid)]
    print(" ".join(map(str, pids)), flush=True)
    time.sleep(600)
"""


def _started(pid: int) -> str | None:
    """When ``pid`` started (so that a pid used again is not taken for ours); None when
    it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if stat[0] == "Z" else stat[19]


@pytest.mark.parametrize("server", [
    "serve", pytest.param("redis_server", marks=requires("redis-server"))])
def test_a_test_run_killed_outright_leaves_no_server_behind(server: str) -> None:
    env = dict(os.environ, QUOTEBOT_SEMANTIC="off")
    env.pop("QUOTEBOT_REDIS_URL", None)
    run = subprocess.Popen([sys.executable, "-c", RUN.format(tests=str(TESTS), server=server)],
                           env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                           start_new_session=True)
    started: dict[int, str | None] = {}
    try:
        assert run.stdout is not None
        # The run says its servers' pids once they serve (or ends: an empty line).
        pids = [int(pid) for pid in run.stdout.readline().split()]
        assert pids and set(pids) <= set(descendants(run.pid))
        started = {pid: _started(pid) for pid in pids}
        run.kill()
        run.wait(10)
        assert wait_until(lambda: all(_started(pid) != when for pid, when in started.items()),
                          30, 0.1)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
        for pid, when in started.items():  # what a failed check left, if still ours
            if _started(pid) == when:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
