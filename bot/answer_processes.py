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
import atexit
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from quotebot.errors import QuotebotError
from quotebot.logs import JsonFormatter, configure_logging

from .adding import FORKSERVER_PRELOAD
from .answerer import Answerer, Here, settle
from .libraries import Shelf

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Questions sent to an answering process at once: the next is there as soon as it has
#: answered one, without waiting for the event loop's turn to send it.
PIPELINE = 2
#: Seconds an answering process has to finish its question once the server closes.
CLOSE_SECONDS = 10.0
#: How much nicer than the server answering processes run, unless told (``--answer-nice``).
NICENESS = 10
#: Each message between the server and an answering process: its length, then its pickle.
_LENGTH = struct.Struct("!Q")


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
    #: How much nicer than the server the process runs (``nice``): the server's event loop
    #: then takes a core from it at once when a request comes.
    niceness: int = NICENESS


class _Process:
    """One answering process and the server's end of its socket."""

    def __init__(self, process: multiprocessing.process.BaseProcess, sock: socket.socket,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.process = process
        self.sock = sock
        self.reader = reader
        self.writer = writer
        #: The replies awaited, in the order the questions were sent.
        self.waiting: deque[asyncio.Future[tuple[Any, ...]]] = deque()
        self.alive = True
        self.replies: asyncio.Future[None] | None = None

    def send(self, message: Any) -> asyncio.Future[tuple[Any, ...]]:
        """Send ``message``; the future of its reply."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        reply: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self.writer.write(_LENGTH.pack(len(data)) + data)
        self.waiting.append(reply)
        return reply

    async def read_replies(self, replied: Callable[[_Process], None],
                           stopped: Callable[[_Process, BaseException], None]) -> None:
        """Give each reply to the question it answers, calling ``replied`` after each,
        until the process stops (then ``stopped``)."""
        try:
            while True:
                (length,) = _LENGTH.unpack(await self.reader.readexactly(_LENGTH.size))
                data = await self.reader.readexactly(length)
                reply = self.waiting.popleft()
                try:
                    outcome = pickle.loads(data)
                except Exception as exc:  # one reply that cannot be read; the next can
                    if not reply.done():
                        reply.set_exception(exc)
                else:
                    if not reply.done():
                        reply.set_result(outcome)
                replied(self)
        except (asyncio.IncompleteReadError, ConnectionError, IndexError) as exc:
            self.alive = False
            while self.waiting:
                reply = self.waiting.popleft()
                if not reply.done():
                    reply.set_exception(AnsweringStopped(
                        "The process answering this question stopped; please ask again."))
            stopped(self, exc)

    def close(self) -> None:
        # The end of the stream reaches the process now (the transport's own close waits
        # for the loop's next turn, which a server stopping may not take).
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError, RuntimeError):
            self.writer.close()


async def _receive(reader: asyncio.StreamReader) -> Any:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(length))


class AnswerProcesses:
    """Answering processes; ``call`` runs a job in the first one with room (each holds
    up to ``PIPELINE`` questions: the one it answers and the next). Use from one event
    loop.

    The server talks to each process over a socket of its own, from the event loop itself:
    no thread of the server takes part (a thread would take turns for the interpreter lock
    with the loop, which is what answering apart is for). Questions wait for a free process
    in the order they came; one whose caller went away (a client that hung up) is not
    answered."""

    def __init__(self, opening: Opening, processes: int = 1) -> None:
        self.opening = opening
        self.processes = max(1, processes)
        self._idle: asyncio.Queue[_Process] | None = None
        self._all: list[_Process] = []
        self._closed = False
        #: Processes being started.
        self._starting = 0
        self._spawning: dict[multiprocessing.process.BaseProcess, socket.socket] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    @property
    def ready(self) -> int:
        """How many processes have opened the index and take questions."""
        return 0 if self._closed else len(self._all)

    @staticmethod
    def prepare() -> None:
        """Start the fork server the processes come from, with what they load (blocks for
        a moment: call it in a thread, while the server opens the index)."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(FORKSERVER_PRELOAD)
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def start(self) -> None:
        """Start the processes (in the background: this returns at once; see ``ready``)."""
        self._idle = asyncio.Queue()
        # Before multiprocessing's own exit handler (which waits for every process): a
        # server that exits without closing them closes them then.
        atexit.register(self.close)
        for _ in range(self.processes):
            self._start_soon()

    async def call(self, job: Callable[..., T], args: tuple[Any, ...]) -> T:
        """``job(here, *args)`` in an answering process, ``here`` being its :class:`Here`."""
        if self._idle is None or self._closed:
            raise AnsweringStopped("The server is stopping; please ask again in a moment.")
        if not self._all and not self._starting:
            self._start_soon()  # they could not start: try again, for the next question
            raise AnsweringStopped("No process can answer questions at the moment (the "
                                   "reason is logged); please ask again in a minute.")
        while True:
            process = await self._idle.get()
            if process.alive:
                break
        # The reply is read even if the caller goes away, so that the process's place is
        # given back.
        try:
            reply = process.send((job, args))
        except BaseException:
            self._idle.put_nowait(process)
            raise
        outcome = await asyncio.shield(reply)
        if outcome[0] == "error":
            raise _rebuilt(*outcome[1:])
        result: T = outcome[1]
        return result

    def _replied(self, process: _Process) -> None:
        if process.alive and self._idle is not None:
            self._idle.put_nowait(process)

    def _stopped(self, process: _Process, exc: BaseException) -> None:
        self._replace_soon(process, None if self._closed else exc)

    def _replace_soon(self, process: _Process, exc: BaseException | None) -> None:
        """Stop ``process`` and start another in its place (a process killed or out of
        memory: the questions after this one are answered)."""
        process.close()
        with contextlib.suppress(ValueError):
            self._all.remove(process)
        if self._closed:
            return
        log.warning("an answering process stopped%s; starting another",
                    f" ({type(exc).__name__})" if exc is not None else "")
        self._start_soon(ending=process)

    def _start_soon(self, ending: _Process | None = None) -> None:
        self._starting += 1
        task = asyncio.ensure_future(self._start_into_idle(ending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_into_idle(self, ending: _Process | None) -> None:
        try:
            if ending is not None:
                await asyncio.to_thread(_end, ending.process, 0.0)
            process = await self._start()
        except (QuotebotError, OSError) as exc:
            log.error("could not start a process answering questions: %s",
                      getattr(exc, "message", exc))
            return
        finally:
            self._starting -= 1
        if self._closed:
            process.close()
            await asyncio.to_thread(_end, process.process, CLOSE_SECONDS)
            return
        self._all.append(process)
        process.replies = asyncio.ensure_future(process.read_replies(self._replied,
                                                                     self._stopped))
        assert self._idle is not None
        for _ in range(PIPELINE):
            self._idle.put_nowait(process)

    async def _start(self) -> _Process:
        ours, theirs = socket.socketpair()
        # Forked from a fork server that has loaded the modules answering runs, not from
        # this process, which has threads and an event loop.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(FORKSERVER_PRELOAD)
        process = context.Process(target=_serve, args=(theirs, self.opening),
                                  name="quotebot-answer")
        # Closed with the others even while it starts (a server stopped meanwhile).
        self._spawning[process] = ours
        try:
            # The process's end of the socket is closed by the thread that sends it, once
            # sent: a start cancelled meanwhile (a server that could not listen, stopping
            # as it starts) closed it while it was being sent, and the process got
            # whatever file came next under its number ("Socket operation on non-socket").
            await asyncio.to_thread(_spawn, process, theirs)
            reader, writer = await asyncio.open_connection(sock=ours)
            started = _Process(process, ours, reader, writer)
            try:
                hello = await _receive(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                hello = ("failed", "it stopped while opening the index")
        except asyncio.CancelledError:
            with contextlib.suppress(OSError):  # the process, once started, sees it and exits
                ours.shutdown(socket.SHUT_RDWR)
            ours.close()
            raise
        finally:
            self._spawning.pop(process, None)
        if hello[0] != "ready":
            started.close()
            await asyncio.to_thread(_end, process, 0.0)
            raise AnsweringStopped(f"The process that answers questions could not start: "
                                   f"{hello[1]}")
        return started

    def close(self) -> None:
        """Close every process: each finishes the question it is answering, if any (up to
        ``CLOSE_SECONDS``), and exits."""
        self._closed = True
        atexit.unregister(self.close)
        for process in self._all:
            process.close()
        for sock in self._spawning.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for process in self._all:
            _end(process.process, CLOSE_SECONDS)
        for spawned in list(self._spawning):
            if spawned.pid is not None:  # started: it exits once it has opened the index
                _end(spawned, CLOSE_SECONDS)
        self._all = []


def _spawn(process: multiprocessing.process.BaseProcess, theirs: socket.socket) -> None:
    """Start ``process``, then close the end of the socket it was given (a copy of it is
    the process's own)."""
    try:
        process.start()
    finally:
        theirs.close()


def _end(process: multiprocessing.process.BaseProcess, seconds: float) -> None:
    """Wait up to ``seconds`` for ``process`` to exit (its socket closed), then kill it."""
    process.join(seconds)
    if process.is_alive():
        process.kill()
        process.join(5.0)


def opening_for(corpus: str | None, index_dir: str | None, *, semantic: str,
                watch_seconds: float, search_url: str | None, data_dir: str | None,
                niceness: int = NICENESS) -> Opening:
    """The :class:`Opening` of the server's settings, with the server's log settings."""
    root = logging.getLogger()
    json = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return Opening(corpus, index_dir, semantic, watch_seconds, search_url, data_dir,
                   log_level=logging.getLevelName(root.level),
                   log_format="json" if json else "text", niceness=niceness)


# -- in the answering process --------------------------------------------------------------


def _serve(sock: socket.socket, opening: Opening) -> None:
    """Open the index, say "ready", then answer each job that comes until the server
    closes the socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # named so in ps and top (Linux)
        Path("/proc/self/comm").write_text("quotebot-answer")
    _yield_to_the_server(opening.niceness)
    configure_logging(opening.log_level, opening.log_format)
    with sock, sock.makefile("rb") as incoming, contextlib.suppress(ConnectionError):
        # (A ConnectionError: the server went away, stopped while this process started.)
        try:
            # The server computes missing vectors and saves them; this process picks them
            # up once saved.
            answerer = Answerer.open(opening.corpus, opening.index_dir,
                                     semantic=opening.semantic,
                                     watch_seconds=opening.watch_seconds, embed=False,
                                     search_url=opening.search_url)
            shelf = Shelf(opening.data_dir, semantic=opening.semantic) if opening.data_dir \
                else None
        except QuotebotError as exc:
            _send(sock, ("failed", exc.message))
            return
        settle()
        try:
            _send(sock, ("ready",))
            _answer_jobs(sock, incoming, answerer, shelf)
        finally:
            answerer.close()  # its connections to search shards, if any, close now


def _answer_jobs(sock: socket.socket, incoming: BinaryIO, answerer: Answerer,
                 shelf: Shelf | None) -> None:
    """Answer each job that comes on ``sock`` until the server closes it."""
    while True:
        header = incoming.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            return  # the server closed: its questions are all answered
        (length,) = _LENGTH.unpack(header)
        job, args = pickle.loads(incoming.read(length))
        outcome = _run(job, Here(answerer.engine, shelf), args)
        try:
            _send(sock, outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(sock, _error(QuotebotError(
                f"The answer could not be sent back ({type(exc).__name__}).",
                code="internal_error")))


def _yield_to_the_server(niceness: int) -> None:
    """Let the server's event loop have a core at once when it wakes (a request, a health
    check, a reply to send), rather than after this process's turn.

    - A session of its own: where Linux shares CPU between sessions first (autogroup,
      the default for programs started from a login), the loop's session then holds the
      light work of serving alone, which is always owed CPU when it wakes; with answering
      in it, the session had used its share and the loop waited for other sessions' turns.
    - Batch work, ``niceness`` nicer than the server: inside one group (a systemd
      service's cgroup) the loop comes first. Where the host shares CPU by neither, other
      programs at normal priority come before answering too (``--answer-nice 0`` puts it
      back).

    The loop's own work is a millisecond or two an answer, so answering loses little. Its
    socket, not its session, ties this process to the server: it exits when that closes."""
    with contextlib.suppress(OSError):
        os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        # Batch: waking up, it never takes a core from a task that runs.
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    if niceness > 0:
        with contextlib.suppress(OSError):
            os.nice(niceness)


def _send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _run(job: Callable[..., Any], here: Here, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``job(here, *args)`` as ("ok", result), or ("error", …) for an error meant for the
    user, given back as raised (see :func:`_rebuilt`)."""
    try:
        return ("ok", job(here, *args))
    except QuotebotError as exc:
        return _error(exc)
    except Exception:
        log.exception("unexpected error while answering")
        failed = QuotebotError("Something went wrong on our side; the error is logged. "
                               "Please try again.", code="internal_error")
        failed.http_status = 500
        return _error(failed)


def _error(exc: QuotebotError) -> tuple[Any, ...]:
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
