"""However `quotebot serve --workers 2` ends, no process it started stays behind: not a
worker, not the fork server answering processes come from, not an answering process (nor
one still starting)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_bot_api import free_port
from servers import wait_until

pytestmark = pytest.mark.slow


def _tree() -> dict[int, list[int]]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    return parents


def _started(pid: int) -> str | None:
    """When ``pid`` started (so that a pid used again is not taken for ours)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _record(root: int, seen: dict[int, str]) -> None:
    parents, todo = _tree(), [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            started = _started(child)
            if started is not None:
                seen.setdefault(child, started)
            todo.append(child)


def _running(seen: dict[int, str]) -> list[str]:
    left = []
    for pid, started in seen.items():
        if _started(pid) == started:
            status = Path(f"/proc/{pid}/status")
            try:
                text = status.read_text()
            except OSError:
                continue
            if "zombie" not in text:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                left.append(f"{pid} {comm}")
    return left


def _names(seen: dict[int, str]) -> set[str]:
    names = set()
    for pid in seen:
        try:
            names.add(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            continue
    return names


def _serve(*args: str, workers: int = 2) -> subprocess.Popen[bytes]:
    env = dict(os.environ, QUOTEBOT_SEMANTIC="off", PYTHONUNBUFFERED="1")
    env.pop("QUOTEBOT_REDIS_URL", None)
    return subprocess.Popen([sys.executable, "-m", "quotebot", "serve", "--port",
                             str(free_port()), "--workers", str(workers), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)


def _watch_until(proc: subprocess.Popen[bytes], seen: dict[int, str], done: object,
                 seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        _record(proc.pid, seen)
        if done():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _answering(seen: dict[int, str]) -> int:
    return sum(1 for pid in seen if _started(pid) == seen[pid] and
               Path(f"/proc/{pid}/comm").read_text().strip() == "quotebot-answer")


def _children(pid: int) -> list[int]:
    return [c for c in _tree().get(pid, []) if _started(c) is not None]


@pytest.mark.parametrize("how", ["sigterm", "sigint", "sigkill-supervisor", "sigkill-workers",
                                 "sigterm-while-starting"])
def test_no_process_of_a_server_outlives_it(how: str) -> None:
    """Catches: a fork server and a child it forked left running with no parent, waiting
    on a pipe, and workers left serving once their supervisor was killed."""
    proc = _serve()
    seen: dict[int, str] = {}
    try:
        if how == "sigterm-while-starting":
            # As soon as a fork server runs: answering processes are being started.
            assert _watch_until(proc, seen, lambda: len(seen) >= 2 and any(
                len(_tree().get(p, [])) for p in _children(proc.pid)), 120)
        else:
            assert _watch_until(proc, seen, lambda: _answering(seen) >= 2, 120), \
                _names(seen)
        _record(proc.pid, seen)
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        elif how == "sigint":
            proc.send_signal(signal.SIGINT)
        elif how == "sigterm-while-starting":
            proc.send_signal(signal.SIGTERM)
        elif how == "sigkill-supervisor":
            proc.kill()
        else:
            for worker in _children(proc.pid):
                os.kill(worker, signal.SIGKILL)
            # The supervisor starts them again (a second later); then it is stopped.
            _watch_until(proc, seen, lambda: False, 3)
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert wait_until(lambda: not _running(seen), 30, 0.1), _running(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for line in _running(seen):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def test_no_process_outlives_a_server_killed_outright(tmp_path: Path) -> None:
    """Catches: a fork server kept running by the processes adding documents it forked,
    which wait for work on a queue whose writing end they hold themselves, once the
    server that started them was killed without shutting them down."""
    proc = _serve("--web-uploads", "--data-dir", str(tmp_path / "data"), workers=1)
    seen: dict[int, str] = {}
    try:
        # The server, its fork server, an answering process and those adding documents.
        assert _watch_until(proc, seen, lambda: _answering(seen) >= 1 and len(seen) >= 5,
                            120), _names(seen)
        _record(proc.pid, seen)
        proc.kill()
        proc.wait(60)
        assert wait_until(lambda: not _running(seen), 30, 0.1), _running(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for line in _running(seen):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def test_no_process_outlives_a_server_that_fails_to_start(tmp_path: Path) -> None:
    """Catches: a fork server started before the index failed to open, left running."""
    proc = _serve("--corpus", str(tmp_path / "missing.txt"))
    seen: dict[int, str] = {}
    try:
        _watch_until(proc, seen, lambda: False, 60)
        assert proc.poll() not in (None, 0)
        assert wait_until(lambda: not _running(seen), 30, 0.1), _running(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for line in _running(seen):
            os.kill(int(line.split()[0]), signal.SIGKILL)
