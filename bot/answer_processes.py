"""Answering in processes apart from the server's event loop.

The event loop of a server accepts connections, reads and writes HTTP, talks to Redis and
answers ``/healthz`` and the web page. Answering a question is Python code that holds the
interpreter lock for milliseconds at a time: in a thread of the server's own process the
loop waited for that lock at every socket event of every request, so ``/healthz`` took
140–160 ms at p99 while answering was saturated. In processes of their own, answers take
none of the loop's turns.

Each answering process opens the same index as the server (its files are memory-mapped,
so their pages are shared), watches its folder for a new generation and picks up vectors
once they are saved, as the server does, and opens libraries from the same data folder.
A question goes to it as a job: a module-level function and plain arguments (the question,
the conversation's state), and comes back as the answer and the conversation's new state.
Conversations stay where they were kept (the server's memory or Redis), so the answers are
the ones a thread of the server would give.

Signals: the answering processes ignore SIGINT and SIGTERM (a Ctrl-C reaches the whole
process group); the server finishes the questions in flight and then closes them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import pickle
import signal
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from quotebot.errors import QuotebotError
from quotebot.logs import JsonFormatter, configure_logging

from .answerer import Answerer, Here
from .libraries import Shelf

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What every process forked by the server's fork server has loaded (the same list for
#: answering and adding: the fork server is one per process and reads it once).
PRELOAD = ["quotebot.bot.adding_preload"]


class AnsweringStopped(QuotebotError):
    code = "answering_stopped"
    http_status = 503


@dataclass(frozen=True, slots=True)
class Opening:
    """How an answering process opens what it answers from: the server's own settings."""

    corpus: str | None
    index_dir: str | None
    semantic: str
    watch_seconds: float
    search_url: str | None
    #: Where libraries live (None: none).
    data_dir: str | None
    #: Level and format of the server's log, which the process's warnings join.
    log_level: str = "WARNING"
    log_format: str = "text"


class AnswerProcesses:
    """A pool of answering processes; ``call`` runs a job in one of them. Use from one
    event loop."""

    def __init__(self, opening: Opening, processes: int = 1) -> None:
        self.opening = opening
        self.processes = max(1, processes)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._started: list[concurrent.futures.Future[Any]] = []

    def start(self) -> None:
        """Start the processes now (they open the index in the background; see ``ready``)."""
        self._executor()

    async def ready(self) -> None:
        """Wait until every process has opened the index (a process that cannot raises
        here, as the server's own opening would)."""
        self._executor()
        try:
            for started in self._started:
                await asyncio.wrap_future(started)
        except BrokenProcessPool:
            self.close()
            raise AnsweringStopped("The processes that answer questions could not open the "
                                   "index; the reason is logged above.") from None

    async def call(self, job: Callable[..., T], args: tuple[Any, ...]) -> T:
        """``job(here, *args)`` in an answering process, ``here`` being its :class:`Here`."""
        try:
            future = self._executor().submit(_run, job, args)
        except (BrokenProcessPool, RuntimeError) as exc:
            raise self._stopped(exc) from None
        try:
            outcome = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            raise self._stopped(exc) from None
        if outcome[0] == "error":
            raise _rebuilt(*outcome[1:])
        result: T = outcome[1]
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            # Forked from a fork server that has loaded the modules answering runs, not
            # from this process, which has threads and an event loop.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.processes, mp_context=context, initializer=_open,
                initargs=(self.opening,))
            self._started = [self._pool.submit(_opened) for _ in range(self.processes)]
        return self._pool

    def _stopped(self, exc: BaseException) -> QuotebotError:
        """A process died (killed, out of memory): the next question gets new ones."""
        log.warning("an answering process stopped: %s", exc)
        self.close()
        return AnsweringStopped("The process answering this question stopped; please ask "
                                "again.")


def opening_for(corpus: str | None, index_dir: str | None, *, semantic: str,
                watch_seconds: float, search_url: str | None, data_dir: str | None
                ) -> Opening:
    """The :class:`Opening` of the server's settings, with the server's log settings."""
    root = logging.getLogger()
    json = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return Opening(corpus, index_dir, semantic, watch_seconds, search_url, data_dir,
                   log_level=logging.getLevelName(root.level),
                   log_format="json" if json else "text")


# -- in the answering process --------------------------------------------------------------

#: What this answering process answers with (set as it starts).
_answerer: Answerer | None = None
_shelf: Shelf | None = None


def _open(opening: Opening) -> None:
    global _answerer, _shelf
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging(opening.log_level, opening.log_format)
    # The server computes missing vectors and saves them; this process picks them up.
    _answerer = Answerer.open(opening.corpus, opening.index_dir, semantic=opening.semantic,
                              watch_seconds=opening.watch_seconds, embed=False,
                              search_url=opening.search_url)
    _shelf = Shelf(opening.data_dir, semantic=opening.semantic) if opening.data_dir else None


def _opened() -> None:
    """Nothing: a process that ran it has opened the index."""


def _run(job: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``job(here, *args)`` as ("ok", result), or ("error", …) for an error meant for the
    user, given back as raised (see :func:`_rebuilt`)."""
    assert _answerer is not None
    try:
        return ("ok", job(Here(_answerer.engine, _shelf), *args))
    except QuotebotError as exc:
        state = dict(vars(exc))
        try:
            pickle.dumps(state)
        except Exception:  # an attribute that does not pickle: what the user sees is kept
            state = {"message": exc.message, "code": exc.code}
        state.setdefault("http_status", exc.http_status)
        return ("error", type(exc), exc.args, state)


def _rebuilt(kind: type[QuotebotError], args: tuple[Any, ...], state: dict[str, Any]
             ) -> QuotebotError:
    """The error a job raised in its process, of the same class, message and code (not
    every error's constructor can be called again with its arguments, so it is not)."""
    exc = kind.__new__(kind)
    exc.args = args
    vars(exc).update(state)
    return exc
