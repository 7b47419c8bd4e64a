"""Where adding documents runs: apart from answering, and fairly between those who add.

Extracting a page, embedding its sentences and writing a library's index take seconds of
CPU for a large document. They run in processes of their own, never in the process that
answers: a thread of the answering process would still share its interpreter lock, and one
long step of an add (a regular expression over a megabyte, a sort) holds that lock for as
long as it takes. Adds are queued per *tenant* (a library: a Telegram chat's, a web page
session's, an API client's):

- at most ``workers`` adds run at once, and a tenant's adds run one at a time, in order;
- tenants take turns: the next add to start is from the tenant that has waited longest;
- anonymous tenants (web page sessions, ``web-…``) together hold at most ``anonymous``
  of the workers, so pages anyone can open never keep a chat or an API client waiting;
- a tenant may have at most ``per_tenant`` adds waiting; more are refused (``adds_busy``);
- an add that runs longer than ``seconds`` is stopped in its worker (``add_too_slow``), and
  its library is left as it was (an add undoes itself on any exception: quotebot.library);
- when the server stops (:meth:`AddQueue.close`, after its requests had their time to
  finish), an add still running is stopped the same way (``server_stopping``), so that the
  server exits at once rather than when the add would have ended, up to ``seconds`` later.

A job is a function and its arguments, which must pickle. A QuotebotError it raises comes
back as :class:`AddRefused` with the same code, message and HTTP status.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from quotebot.errors import QuotebotError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What the server's fork server loads before it forks a process adding documents or
#: answering questions (one list: the fork server is one per process and reads it once).
#: The guard first: the fork server and its processes never outlive the server.
FORKSERVER_PRELOAD = ["quotebot.bot.forkserver_guard", "quotebot.bot.adding_preload",
                      "quotebot.bot.answer_processes"]
#: Processes adding documents at once, per serving process.
WORKERS = 3
#: Of those, how many anonymous tenants (web page sessions) may hold at once.
ANONYMOUS = 1
#: Adds one tenant may have waiting.
PER_TENANT = 8
#: Name prefix of anonymous tenants.
ANONYMOUS_PREFIX = "web-"
#: Seconds one add may run in its worker before it is stopped. Reading is bounded by size
#: while it happens; this bounds what size alone does not (a slow page, a pathological PDF).
ADD_SECONDS = 600.0


class AddsBusy(QuotebotError):
    code = "adds_busy"
    http_status = 429


class AddTooSlow(QuotebotError):
    code = "add_too_slow"
    http_status = 413


class AddStopped(QuotebotError):
    code = "server_stopping"
    http_status = 503


class AddRefused(QuotebotError):
    """A QuotebotError raised by a job in its worker process, as it was raised there."""

    def __init__(self, message: str, *, code: str, http_status: int) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status


def run_job(func: Callable[..., Any], args: tuple[Any, ...],
            seconds: float = ADD_SECONDS) -> tuple[Any, ...]:
    """In the worker: ``func(*args)`` as ("ok", result), or ("error", code, message,
    status) for an error meant for the user (exceptions do not all pickle). Past
    ``seconds`` the job is interrupted where it is (a signal of this worker's own timer),
    which the job sees as :class:`AddTooSlow`; the worker goes on to the next job. SIGTERM
    (the server stopping) interrupts it the same way, as :class:`AddStopped`."""
    done = False

    def too_slow(signum: int, frame: object) -> None:
        if not done:
            raise AddTooSlow(f"Adding this document took longer than {seconds:g} seconds, "
                             "so it was stopped and nothing was added. A smaller document, "
                             "or the document split in parts, can be added.")

    def stopping(signum: int, frame: object) -> None:
        # Once: a second SIGTERM must not interrupt the add while it undoes itself.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not done:
            raise AddStopped("The server stopped while adding this document, so nothing was "
                             "added. Add it again once the server is back.")

    previous = signal.signal(signal.SIGALRM, too_slow)
    previous_term = signal.signal(signal.SIGTERM, stopping)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        result = func(*args)
        done = True
        return ("ok", result)
    except QuotebotError as exc:
        return ("error", exc.code, exc.message, exc.http_status)
    finally:
        done = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, previous_term)


def _warm_up() -> None:
    """Nothing: a worker process that ran it has started."""


def _prepare(warm: Callable[[], None] | None) -> None:
    """In each worker process as it starts: ``warm()``, whose failure only means that the
    first add does the work itself."""
    # Between adds SIGTERM is ignored: only an add is stopped by it (see run_job); an idle
    # worker ends when the pool is shut down (or with the fork server, when it is killed).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if warm is None:
        return
    try:
        warm()
    except Exception:  # a process that failed to warm up still adds
        log.warning("a process adding documents could not load everything at start",
                    exc_info=True)


@dataclass(slots=True, eq=False)  # a job is itself: two alike are still two
class _Job:
    func: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    started: asyncio.Event | None = None


@dataclass(slots=True)
class _Tenant:
    jobs: deque[_Job] = field(default_factory=deque)
    running: bool = False


class AddQueue:
    """Runs adds in worker processes (see the module). Use from one event loop."""

    def __init__(self, workers: int = WORKERS, anonymous: int = ANONYMOUS,
                 per_tenant: int = PER_TENANT, seconds: float = ADD_SECONDS,
                 warm: Callable[[], None] | None = None) -> None:
        """``warm`` (it must pickle) runs in each worker process as it starts, so that what
        adds need is loaded before the first add comes."""
        self.workers = max(1, workers)
        self.warm = warm
        self.seconds = seconds
        self.anonymous = max(1, min(anonymous, self.workers))
        self.per_tenant = per_tenant
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        #: Tenants with adds waiting or running, the longest waiting first.
        self._tenants: OrderedDict[str, _Tenant] = OrderedDict()
        self._running = 0
        self._running_anonymous = 0

    async def run(self, tenant: str, func: Callable[..., T], *args: Any,
                  started: asyncio.Event | None = None) -> T:
        """``func(*args)`` in a worker process, in ``tenant``'s turn; ``started`` is set when
        it leaves the queue for its worker."""
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants[tenant] = _Tenant()
        if len(state.jobs) >= self.per_tenant:
            raise AddsBusy(f"{len(state.jobs)} documents are already waiting to be added here; "
                           "please wait for them before sending more.")
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        job = _Job(func, args, future, started)
        state.jobs.append(job)
        self._start_next()
        try:
            outcome = await future
        except asyncio.CancelledError:
            # Its caller went away (a client that hung up): a job still waiting is dropped
            # now, so that it no longer counts against the tenant's adds waiting.
            if job in state.jobs:
                state.jobs.remove(job)
                self._settle(tenant, state)
            raise
        if outcome[0] == "error":
            _, code, message, status = outcome
            raise AddRefused(message, code=code, http_status=status)
        result: T = outcome[1]
        return result

    def close(self) -> None:
        """Stop: adds waiting are dropped, and one still running is stopped in its worker
        (which undoes it) instead of being waited for when this process exits."""
        if self._pool is None:
            return
        # The pool forgets its processes once shut down: who they are is read first.
        processes = list((self._pool._processes or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.pid is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    def start(self) -> None:
        """Start the worker processes now rather than at the first add (in the background:
        this returns at once)."""
        self._executor()

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            # Not forked from this process, which has threads and an event loop: forked
            # from a server process that loaded what adding needs once, so that a worker
            # starts in milliseconds.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(FORKSERVER_PRELOAD)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_prepare,
                initargs=(self.warm,))
            # All of them at once: a tenant arriving while the others' adds run finds a
            # process ready for it.
            for _ in range(self.workers):
                self._pool.submit(_warm_up)
        return self._pool

    def _start_next(self) -> None:
        while self._running < self.workers:
            picked = self._pick()
            if picked is None:
                return
            name, state = picked
            job = state.jobs.popleft()
            if job.future.done():  # its caller went away before its turn
                self._settle(name, state)
                continue
            state.running = True
            anonymous = name.startswith(ANONYMOUS_PREFIX)
            self._running += 1
            self._running_anonymous += anonymous
            self._tenants.move_to_end(name)  # served: to the back of the line
            try:
                done = asyncio.wrap_future(self._executor().submit(run_job, job.func, job.args,
                                                                self.seconds))
            except (BrokenProcessPool, RuntimeError) as exc:
                failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                done = failed
            done.add_done_callback(functools.partial(self._finished, name, state, anonymous,
                                                     job))
            if job.started is not None:
                job.started.set()

    def _pick(self) -> tuple[str, _Tenant] | None:
        for name, state in self._tenants.items():
            if state.running or not state.jobs:
                continue
            if name.startswith(ANONYMOUS_PREFIX) and self._running_anonymous >= self.anonymous:
                continue
            return name, state
        return None

    def _finished(self, name: str, state: _Tenant, anonymous: bool, job: _Job,
                  result: asyncio.Future[Any]) -> None:
        self._running -= 1
        self._running_anonymous -= anonymous
        state.running = False
        exc = None if result.cancelled() else result.exception()
        if isinstance(exc, BrokenProcessPool | RuntimeError):
            # A worker died (killed, out of memory): the next add gets a new pool.
            log.warning("a process adding documents stopped: %s", exc)
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            exc = QuotebotError("The document could not be added: the process adding it "
                                "stopped. Please try again.", code="add_failed")
            exc.http_status = 503
        if not job.future.done():
            if result.cancelled():
                job.future.cancel()
            elif exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result.result())
        if name in self._tenants:  # just served: behind those who waited meanwhile
            self._tenants.move_to_end(name)
        self._settle(name, state)
        self._start_next()

    def _settle(self, name: str, state: _Tenant) -> None:
        if not state.jobs and not state.running:
            self._tenants.pop(name, None)
