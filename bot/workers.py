"""``quotebot serve --workers N``: N answering processes on one port.

Pre-fork, as gunicorn does: this process forks N workers before any of them opens the
index or starts an event loop; each worker serves the whole application on the same
port with ``SO_REUSEPORT``, so the kernel spreads connections over them, and all of them
map the same index files (the pages are shared). This process only supervises: it starts
worker 0 first and the others once it serves (so a failed start is reported once), passes
SIGTERM and SIGINT on to every worker, and starts a worker again if one dies.

Why processes: answering is Python code, which one process runs on one core at a time;
threads would share one interpreter lock. Why ``SO_REUSEPORT`` rather than one socket
shared by every worker: a busy worker's event loop still accepts connections it cannot
answer soon, while the kernel's spreading keeps the workers evenly loaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from quotebot.lifetime import die_with_parent

log = logging.getLogger(__name__)

#: A worker that dies sooner than this after starting is not started again at once.
RESTART_DELAY = 1.0


def check_port(host: str, port: int) -> None:
    """Raise OSError (EADDRINUSE …) unless ``host:port`` can be listened on by us alone:
    workers share the port through SO_REUSEPORT, which would also let them share it
    with another server that set it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, port))


def serve_workers(n: int, run_worker: Callable[[int, Callable[[], None]], int],
                  *, shutdown_timeout: float, ready: Callable[[], None] | None = None) -> int:
    """Run ``run_worker(i, ready)`` in ``n`` forked processes (a worker calls its
    ``ready()`` once it serves; this process calls ``ready`` once worker 0 does); returns
    the exit code for this process."""
    children: dict[int, int] = {}  # pid → worker number
    started_at: dict[int, float] = {}
    stopping = False
    exit_code = 0

    supervisor = os.getpid()

    def fork(number: int) -> int:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            # A supervisor killed outright (SIGKILL, out of memory) stops its workers as
            # SIGTERM does, rather than leaving them serving with no parent.
            die_with_parent(signal.SIGTERM)
            if os.getppid() != supervisor:
                os._exit(1)

            def ready() -> None:
                with contextlib.suppress(OSError):
                    os.write(write, b"1")
                    os.close(write)

            code = 1
            try:
                code = run_worker(number, ready)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # a worker never returns into the supervisor's code
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write)
        children[pid] = number
        started_at[number] = time.monotonic()
        return read

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    # Worker 0 first: a start that fails (a busy port, Telegram unreachable) fails once.
    first = fork(0)
    with os.fdopen(first, "rb") as pipe:
        became_ready = pipe.read(1) == b"1"
    if not became_ready:
        pid, status = os.waitpid(next(iter(children)), 0)
        return os.waitstatus_to_exitcode(status) or 1
    if ready is not None:
        ready()
    for number in range(1, n):
        os.close(fork(number))
    deadline: float | None = None
    while children:
        if stopping and deadline is None:
            deadline = time.monotonic() + shutdown_timeout + 5.0
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if deadline is not None and time.monotonic() > deadline:
                for straggler in list(children):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(straggler, signal.SIGKILL)
            time.sleep(0.05)
            continue
        number = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            exit_code = exit_code or (0 if code in (0, -signal.SIGTERM) else 1)
            continue
        log.warning("worker %d stopped (exit %s); starting it again", number, code)
        wait = RESTART_DELAY - (time.monotonic() - started_at.get(number, 0.0))
        if wait > 0:
            time.sleep(wait)
        if not stopping:
            os.close(fork(number))
    return exit_code
