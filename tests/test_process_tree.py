"""However `quotebot serve` ends, no process it started stays behind: not a worker, not the
fork server answering and adding processes come from, not one of those (nor one still
starting). Processes are matched by the pids seen below the server while it ran, and the
time each started, never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quotebot.library import JOURNAL, Library

from fake_bot_api import free_port
from servers import Process, children_of, descendants, serve, wait_until

pytestmark = pytest.mark.slow


def _started(pid: int) -> str | None:
    """When ``pid`` started (so that a pid used again is not taken for ours)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class _Tree:
    """A server and every process seen below it while it ran."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.seen: dict[int, str] = {}

    def record(self) -> None:
        for pid in descendants(self.proc.pid):
            started = _started(pid)
            if started is not None:
                self.seen.setdefault(pid, started)

    def watch(self, seconds: float, done: Callable[[], bool] = lambda: False) -> bool:
        """Record the tree until ``done()`` (True) or ``seconds`` pass (False)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.proc.poll() is None:
            self.record()
            if done():
                return True
            time.sleep(0.02)
        return False

    def running(self) -> list[str]:
        """Processes seen that still run (not zombies), as "pid name"."""
        left = []
        for pid, started in self.seen.items():
            if _started(pid) == started:
                with contextlib.suppress(OSError):
                    if "zombie" not in Path(f"/proc/{pid}/status").read_text():
                        left.append(f"{pid} {_comm(pid)}")
        return left

    def answering(self) -> int:
        return sum(1 for pid in self.seen
                   if _started(pid) == self.seen[pid] and _comm(pid) == "quotebot-answer")

    def all_gone(self) -> bool:
        self.proc.wait(60)
        return wait_until(lambda: not self.running(), 30, 0.1)


@contextlib.contextmanager
def _server(*args: str, workers: int = 2) -> Iterator[_Tree]:
    env = dict(os.environ, QUOTEBOT_SEMANTIC="off", PYTHONUNBUFFERED="1")
    env.pop("QUOTEBOT_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "serve", "--port",
                             str(free_port()), "--workers", str(workers), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    tree = _Tree(proc)
    try:
        yield tree
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for line in tree.running():  # ours only: what a failed check left
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)


@pytest.mark.parametrize("how", ["sigterm", "sigint", "sigkill-supervisor", "sigkill-workers",
                                 "sigterm-while-starting"])
def test_no_process_of_a_server_outlives_it(how: str) -> None:
    """Catches: workers left serving once their supervisor was killed, and a fork server
    and a child it forked left running with no parent, waiting on a pipe."""
    with _server() as tree:
        proc = tree.proc
        if how == "sigterm-while-starting":
            # As soon as a worker has a child (its fork server): answering processes are
            # being started.
            assert tree.watch(120, lambda: any(children_of().get(p) for p in
                                               children_of().get(proc.pid, [])))
        else:
            assert tree.watch(120, lambda: tree.answering() >= 2), tree.running()
        tree.record()
        if how == "sigint":
            proc.send_signal(signal.SIGINT)
        elif how == "sigkill-supervisor":
            proc.kill()
        elif how == "sigkill-workers":
            for worker in children_of().get(proc.pid, []):
                os.kill(worker, signal.SIGKILL)
            tree.watch(3)  # the supervisor starts them again (after a second)
            proc.send_signal(signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        assert tree.all_gone(), tree.running()


def test_no_process_outlives_a_server_killed_outright(tmp_path: Path) -> None:
    """Catches: a fork server kept running by the processes adding documents it forked,
    which wait for work on a queue whose writing end they hold themselves, once the
    server that started them was killed without shutting them down."""
    with _server("--web-uploads", "--data-dir", str(tmp_path / "data"), workers=1) as tree:
        # The server, its fork server, an answering process and those adding documents.
        assert tree.watch(120, lambda: tree.answering() >= 1 and len(tree.seen) >= 5), \
            tree.running()
        tree.record()
        tree.proc.kill()
        assert tree.all_gone(), tree.running()


def test_no_process_outlives_a_server_that_fails_to_start(tmp_path: Path) -> None:
    """Catches: a fork server started before the index failed to open, left running."""
    with _server("--corpus", str(tmp_path / "missing.txt")) as tree:
        tree.watch(60)
        assert tree.proc.poll() not in (None, 0)
        assert tree.all_gone(), tree.running()


@pytest.mark.timeout(300)  # a start, a small add and a stop, each slower on busy cores
def test_a_server_stopped_while_adding_ends_in_its_shutdown_time_and_keeps_its_library(
        tmp_path: Path) -> None:
    """Catches: SIGTERM while a large document was being added (its passages embedded: a
    minute or more) kept the server running until the add ended, long past its shutdown
    time (a supervisor kills it first), and then added the document whose request had
    already been cut off."""
    key = "a-key-of-twenty-chars"
    auth = {"Authorization": f"Bearer {key}"}
    data = tmp_path / "data"
    env = {"QUOTEBOT_API_KEY": key, "QUOTEBOT_DATA_DIR": str(data), "QUOTEBOT_SEMANTIC": "on",
           "QUOTEBOT_WORKERS": "1"}
    rainfall = " ".join(f"Station {n} recorded {n * 7 % 997} millimetres of rain in week "
                        f"{n % 52}." for n in range(40_000))

    def add_rainfall(server: Process) -> None:
        with contextlib.suppress(OSError):  # the server stops while it adds
            server.post("/v1/libraries/notes/docs", {"text": rainfall, "title": "Rainfall"},
                        auth, timeout=600)

    with serve(env=env, timeout=180) as server:
        tree = _Tree(server.proc)
        status, body = server.post("/v1/libraries/notes/docs", {
            "text": "The harbour wall was rebuilt in 1921.", "title": "Harbour"}, auth,
            timeout=180)
        assert status == 201, body
        threading.Thread(target=add_rainfall, args=(server,), daemon=True).start()
        assert wait_until((data / "notes" / JOURNAL).exists, 120), "the add never began"
        tree.record()
        stopped = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(240)
        took = time.monotonic() - stopped
        assert tree.all_gone(), tree.running()
    # Its requests have 10 s to finish; then the add is stopped and undone (the whole add,
    # its 120,000 passages embedded, takes minutes).
    assert took < 45, f"the server took {took:.0f} s to stop"
    assert [doc.title for doc in Library(data / "notes").documents()] == ["Harbour"]
    assert not (data / "notes" / JOURNAL).exists()
