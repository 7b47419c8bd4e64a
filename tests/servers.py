"""Real processes for tests: `quotebot serve`, `quotebot telegram` and `redis-server`,
each on a free 127.0.0.1 port, started and stopped with bounded waits, and ended with the
test run however it ends (:func:`ends_with_this_process`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_bot_api import free_port

QUOTEBOT = [sys.executable, "-m", "quotebot"]


def children_of() -> dict[int, list[int]]:
    """Each running process's children, by its pid (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    return parents


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``: its children, theirs, and so on."""
    parents = children_of()
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Process:
    proc: subprocess.Popen[str]
    port: int
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def post(self, path: str, data: Any, headers: dict[str, str] | None = None,
             timeout: float = 10) -> tuple[int, Any]:
        body = json.dumps(data).encode()
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers={
            "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def metric(self, name: str, **labels: str) -> float:
        """One series of the server's /metrics (0 when the series is not there yet)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        wanted = set(labels.items())
        for line in text.splitlines():
            match = _SERIES.fullmatch(line)
            if match and match["name"] == name and set(
                    _LABEL.findall(match["labels"] or "")) == wanted:
                return float(match["value"])
        return 0.0


_SERIES = re.compile(r"(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def wait_until(condition: Any, timeout: float, step: float = 0.2) -> bool:
    """Whether ``condition()`` turned true within ``timeout`` seconds (polled every ``step``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


#: Seconds a server may take to start: 31 were measured with the two cores shared by a
#: load of 19 (a CI run on a busy machine failed when this was 30).
START_SECONDS = 120.0


@contextlib.contextmanager
def serve(*args: str, env: dict[str, str] | None = None, timeout: float = START_SECONDS
          ) -> Iterator[Process]:
    """`quotebot serve` on a free port; stopped with SIGTERM (then SIGKILL) afterwards, and
    killed if the test run is (:func:`ends_with_this_process`)."""
    port = free_port()
    log_file = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen([*QUOTEBOT, *args, "serve", "--port", str(port)], env=full_env,
                            stdout=log_file, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, preexec_fn=ends_with_this_process)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout, proc)
        yield Process(proc, port, Path(log_file.name))
    finally:
        stop(proc)
        log_file.close()


def stop(proc: subprocess.Popen[str], timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@contextlib.contextmanager
def redis_server() -> Iterator[Process]:
    """A throwaway redis-server on a free port (no persistence), killed if the test run is
    (:func:`ends_with_this_process`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server); "
                           ".ci/run installs it")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-")
    log_path = Path(workdir) / "redis.log"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir, "--logfile", str(log_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=ends_with_this_process)
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("redis-server did not start")
    try:
        yield Process(proc, port, log_path, {"url": f"redis://127.0.0.1:{port}/0"})
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def ends_with_this_process() -> None:
    """For ``preexec_fn``: the kernel kills the new process when this one ends, however it
    ends (a server in a session of its own is otherwise left running, its parent init)."""
    from quotebot.lifetime import die_with_parent

    die_with_parent()


def start_xapian_shard(folder: Path, port: int | None = None, timeout: float = 10.0,
                       options: tuple[str, ...] = ()) -> Process:
    """`xapian-tcpsrv` serving the shard ``folder`` on 127.0.0.1 (a free port unless given).

    It runs in a session of its own: on SIGTERM xapian-tcpsrv kills its whole process
    group, which would otherwise be pytest's. Stop it with :func:`stop_xapian_shard`; a run
    cut short (killed, or ended by a timeout with no teardown) ends it too
    (:func:`ends_with_this_process`).
    """
    binary = shutil.which("xapian-tcpsrv")
    if binary is None:
        raise RuntimeError("xapian-tcpsrv is not installed (apt-get install xapian-tools); "
                           ".ci/run installs it")
    import socket

    for _ in range(5):  # a free port can be taken by someone else before the server binds
        chosen = port or free_port()
        log_path = folder.parent / f"{folder.name}.{chosen}.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen([binary, "--interface", "127.0.0.1", "--port", str(chosen),
                                     *options, str(folder)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True,
                                    start_new_session=True, preexec_fn=ends_with_this_process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", chosen),
                                                                        0.2):
                return Process(proc, chosen, log_path)
            time.sleep(0.05)
        stop_xapian_shard(Process(proc, chosen, log_path))
        if port:
            break
    raise RuntimeError(f"xapian-tcpsrv did not start serving {folder}")


def stop_xapian_shard(shard: Process, timeout: float = 10.0) -> None:
    """Stop one shard server by its PID (SIGKILL when SIGTERM is not enough)."""
    proc = shard.proc
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
