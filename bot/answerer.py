"""The engine as the network front ends use it: off the event loop, always current.

- Questions run in worker threads, so the event loop keeps accepting requests, health
  checks and Telegram updates while an answer is computed; at most ``max_pending``
  questions wait, beyond that the server says it is busy.
- The server answers from the moment the index is open: when vectors for reranking by
  meaning are not saved yet, they are computed in the background and reranking starts
  when they are ready (``/healthz`` says ``"semantic": "pending"`` meanwhile).
- A new generation of the index (``quotebot index`` into the folder being served) is
  picked up by itself: the folder's ``CURRENT`` is checked every ``watch_seconds``,
  and the new index replaces the old one between questions, with no restart and no
  failed request. Readers of the old generation keep their mapped pages. Answering from
  search shards, a corpus they all hold anew (``quotebot add --search-url``) is picked
  up the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from quotebot.engine import QuoteEngine
from quotebot.errors import QuotebotError
from quotebot.indexing import ProgressLine, progress_lines
from quotebot.models import Answer
from quotebot.session import SessionState, follow_up
from quotebot.store import IndexFolder, SentenceIndex, load_index
from quotebot.store.catalogue import open_index

if TYPE_CHECKING:
    from .libraries import Shelf

log = logging.getLogger(__name__)

T = TypeVar("T")


class Busy(QuotebotError):
    """Too many questions are waiting for an answer in this process."""

    code = "busy"
    http_status = 503


#: How many first turns of conversations are remembered (see Answerer.follow_up).
FIRST_TURNS = 1024
_FRESH = SessionState()


@dataclass(frozen=True, slots=True)
class Here:
    """What a job of :meth:`Answerer.call` answers with where it runs: the current engine
    of the corpus, and the libraries (None: the server has none)."""

    corpus: QuoteEngine
    shelf: Shelf | None


class Elsewhere(Protocol):
    """Where jobs run when not in this process's answering thread (see
    quotebot.bot.answer_processes)."""

    async def call(self, job: Callable[..., T], args: tuple[Any, ...]) -> T: ...

    def close(self) -> None: ...

    @property
    def ready(self) -> int:
        """How many processes are ready for questions."""


def settle() -> None:
    """Leave what exists now out of the garbage collector's full passes (``gc.freeze``),
    after collecting what is garbage, including what an earlier call left out.

    A server's start-up leaves about 90,000 objects that live as long as it does (modules,
    functions, the index's records); each full pass of the collector walked them all, for
    150-300 ms during which the process did nothing else: every few seconds under load,
    the event loop's /healthz waited that long. Call it once start-up is done, and again
    after the engine is replaced (what the old one held is collected then)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def unsettle() -> None:
    """Undo :func:`settle` once what it kept stops serving, in a process that goes on (a
    server stopped and started again in one process): frozen, the stopped server's engine
    would never be collected, nor its index's files unmapped, about 60 descriptors each."""
    gc.unfreeze()
    gc.collect()


def corpus_turn(here: Here, state: SessionState, text: str, k: int,
                options: dict[str, Any]) -> tuple[Answer, SessionState]:
    """One turn of a conversation with the corpus (a job of :meth:`Answerer.call`)."""
    return follow_up(here.corpus, state, text, k, **options)


class Answerer:
    """Holds the current engine and answers with it in worker threads.

    One thread by default: answering is Python code that holds the interpreter lock, so a
    second thread in the same process only takes turns with the first and with the event
    loop (measured on 100,000 sentences: 240 new questions a second with one thread, 150
    with two, and a slower /healthz). More cores are used by more processes: ``quotebot
    serve --workers N``.
    """

    def __init__(self, engine: QuoteEngine, *, semantic: str = "auto", threads: int = 1,
                 max_pending: int = 256, watch_seconds: float = 2.0, embed: bool = True,
                 search_url: str | None = None) -> None:
        self._engine = engine
        #: Xapian shard servers that retrieval asks (None: the index itself).
        self.search_url = search_url
        self.semantic_mode = semantic
        #: Compute missing vectors (else wait for another process to save them).
        self.embed = embed
        self.max_pending = max_pending
        self.watch_seconds = watch_seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="quotebot-answer")
        self._pending = 0
        #: First turns answered: (question, k, options, semantic) → (engine, result).
        self._first_turns: OrderedDict[tuple[Any, ...],
                                       tuple[QuoteEngine, tuple[Answer, SessionState]]] = (
            OrderedDict())
        self._embedding: threading.Thread | None = None
        self._closed = threading.Event()
        #: The processes questions are answered in (None: this process's thread).
        self.elsewhere: Elsewhere | None = None
        self._watcher: threading.Thread | None = None
        #: The engines replaced since the last watch: closed (their connections to search
        #: shards) and collected (:func:`settle`) at the next.
        self._replaced: list[QuoteEngine] = []

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, corpus: str | None, index_dir: str | None, *, semantic: str = "auto",
             watch_seconds: float = 2.0, embed: bool = True,
             search_url: str | None = None) -> Answerer:
        """Open the index (building it if need be), attach saved vectors, start computing
        missing ones in the background, and watch the index folder (blocks while the index
        opens: call it from a thread in a server). With ``search_url``, it answers from
        those Xapian shard servers alone (``corpus`` and ``index_dir`` are not read); one
        that is down now is logged, answers are refused with ``shard_unavailable`` until
        it answers, and ``/healthz`` names it."""
        if search_url:
            from quotebot.xapian_backend import open_sharded_engine

            answerer = cls(open_sharded_engine(search_url, semantic, check=False),
                           semantic="off", watch_seconds=watch_seconds, embed=embed,
                           search_url=search_url)
            answerer._start_watching()
            return answerer
        indexing, embedding = progress_lines(corpus)
        try:
            index, directory = open_index(corpus, index_dir, progress=indexing)
        finally:
            indexing.close()
        engine = _engine_with_saved_vectors(index, directory, semantic)
        answerer = cls(engine, semantic=semantic, watch_seconds=watch_seconds, embed=embed)
        answerer._embed_in_background(engine, progress=embedding)
        answerer._start_watching()
        return answerer

    def _start_watching(self) -> None:
        watch = (self._watch if self._engine.directory is not None
                 else self._watch_shards if self.search_url else None)
        if watch is not None and self.watch_seconds > 0:
            self._watcher = threading.Thread(target=watch, name="quotebot-watch", daemon=True)
            self._watcher.start()

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.elsewhere is not None:
            self.elsewhere.close()
        replaced, self._replaced = self._replaced, []
        self._close_shards([*replaced, self._engine])

    def _close_shards(self, engines: list[QuoteEngine]) -> None:
        """Close the connections of ``engines`` to the search shards now (a question under
        way on one finishes first), not when the collector gets to them."""
        if self.search_url:
            from quotebot.xapian_backend import close_shards

            for engine in engines:
                close_shards(engine)

    # -- what front ends use ------------------------------------------------------------

    @property
    def engine(self) -> QuoteEngine:
        return self._engine

    @property
    def semantic_status(self) -> str:
        """"on" (reranking by meaning), "pending" (vectors being computed) or "off"."""
        if self._engine.semantic:
            return "on"
        embedding = self._embedding
        return "pending" if embedding is not None and embedding.is_alive() else "off"

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` in a worker thread; Busy when too many are waiting."""
        self._admit()
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, func, *args)
        finally:
            self._pending -= 1

    async def call(self, job: Callable[..., T], *args: Any, shelf: Shelf | None = None) -> T:
        """``job(here, *args)``, ``here`` being a :class:`Here`: in an answering process
        when there are some (``job`` a module-level function, its arguments and result
        plain data that pickle; the process opens the libraries of the server's data
        folder, which ``shelf`` must be), else in this process's answering thread with
        ``shelf`` (also while no answering process is ready: as the server starts, or
        after one stopped); Busy when too many are waiting."""
        if self.elsewhere is None or not self.elsewhere.ready:
            return await self.run(job, Here(self._engine, shelf), *args)
        self._admit()
        self._pending += 1
        try:
            return await self.elsewhere.call(job, args)
        finally:
            self._pending -= 1

    def _admit(self) -> None:
        if self._pending >= self.max_pending:
            raise Busy("The server is answering many questions at the moment; try again in "
                       "a few seconds.")

    async def follow_up(self, state: SessionState, text: str, k: int = 3, **options: Any
                        ) -> tuple[Answer, SessionState]:
        """:func:`quotebot.session.follow_up` with the current engine, off the loop.

        The first turn of a conversation depends only on the question and the engine, so
        it is remembered and given again on the loop, without the trip to the answering
        thread (people ask the same first questions again and again).
        """
        engine = self._engine
        first = state == _FRESH
        key = (text, k, tuple(sorted(options.items())), engine.semantic)
        if first:
            hit = self._first_turns.get(key)
            if hit is not None and hit[0] is engine:
                with contextlib.suppress(KeyError):  # cleared meanwhile by a new generation
                    self._first_turns.move_to_end(key)
                return hit[1]
        result = await self.call(corpus_turn, state, text, k, options)
        if first:
            self._first_turns[key] = (engine, result)
            with contextlib.suppress(KeyError):
                while len(self._first_turns) > FIRST_TURNS:
                    self._first_turns.popitem(last=False)
        return result

    # -- keeping current ----------------------------------------------------------------

    def _embed_in_background(self, engine: QuoteEngine,
                             progress: ProgressLine | None = None) -> None:
        """Compute the vectors ``engine`` lacks in a thread of their own (with ``progress``
        on stderr, when given, for work over a second)."""
        if engine.semantic or not engine.wants_semantic(self.semantic_mode):
            if progress is not None:
                progress.close()
            return

        def embed() -> None:
            started = time.perf_counter()
            try:
                if self.embed:
                    engine.attach_semantic(self.semantic_mode, progress=progress)
                else:
                    # Another worker computes them; pick them up once saved.
                    while not self._closed.is_set() and not engine.attach_semantic(
                            self.semantic_mode, compute=False):
                        self._closed.wait(self.watch_seconds)
            except (QuotebotError, OSError) as exc:
                log.warning("reranking by meaning stays off: %s", getattr(exc, "message", exc))
                return
            finally:
                if progress is not None:
                    progress.close()
            if not engine.semantic:
                return
            log.info("reranking by meaning is on (vectors for %d sentences ready in %.1f s)",
                     engine.index.n_sentences, time.perf_counter() - started)

        log.info("answering by words while the vectors for %d sentences are computed",
                 engine.index.n_sentences)
        self._embedding = threading.Thread(target=embed, name="quotebot-embed", daemon=True)
        self._embedding.start()

    def _watch(self) -> None:
        directory = self._engine.directory
        assert directory is not None
        folder = IndexFolder(directory)
        while not self._closed.wait(self.watch_seconds):
            self._settle_if_replaced()
            name = folder.current_name()
            if not name or name == self._engine.index.generation:
                continue
            try:
                self._switch(directory)
            except (QuotebotError, OSError) as exc:
                # A generation being written, or damaged: keep answering from the old one.
                log.warning("could not open the new index generation %s: %s", name,
                            getattr(exc, "message", exc))

    def _watch_shards(self) -> None:
        """Answer from the search shards' new corpus once they all hold it (a document was
        added through writable shard servers)."""
        from quotebot.xapian_backend import newer_engine

        while not self._closed.wait(self.watch_seconds):
            self._settle_if_replaced()
            engine = newer_engine(self._engine)
            if engine is not None:
                self._use(engine)

    def _use(self, engine: QuoteEngine) -> None:
        # One reference swap: a question uses one engine throughout.
        old, self._engine = self._engine, engine
        # First turns of the old corpus go (one the loop adds meanwhile is never given:
        # its engine is not the current one).
        self._first_turns.clear()
        self._replaced.append(old)

    def _settle_if_replaced(self) -> None:
        """A watch after the engine was replaced (questions that had the old one are
        answered by then): the old engine's shard connections are closed, what it held is
        collected, its files unmapped."""
        if self._replaced:
            replaced, self._replaced = self._replaced, []
            self._close_shards(replaced)
            del replaced
            settle()

    def _switch(self, directory: Path) -> None:
        index = load_index(directory)
        if index.generation == self._engine.index.generation:
            return
        engine = _engine_with_saved_vectors(index, directory, self.semantic_mode)
        self._use(engine)
        log.info("now answering from index generation %s (%d documents, %d sentences)",
                 index.generation, len(index.docs), index.n_sentences)
        self._embed_in_background(engine)


def _engine_with_saved_vectors(index: SentenceIndex, directory: Path | None,
                               semantic: str) -> QuoteEngine:
    engine = QuoteEngine(index, directory=directory)
    engine.attach_semantic(semantic, compute=False)
    return engine
