"""Libraries as the network front ends use them: by name, under the data folder, their
engines opened on demand, kept current and few, and their writes off the event loop.

Names: ``[a-z0-9][a-z0-9_-]{0,63}``. An HTTP client with the API key names its own;
a Telegram chat's is ``tg-<chat id>`` and a web page session's ``web-<hash of its id>``,
names the HTTP API refuses, so no client reaches another's articles.

A conversation with a library of its own (a chat, a web page session) is answered by
:func:`converse`: from the library first, and from the server's corpus when the library
does not answer. Each keeps its own conversation state ("more" continues whichever
answered last; "what did she say?" looks in the one it asks).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quotebot.errors import QuotebotError
from quotebot.library import AddResult, Library, LibraryError, LibraryLimits
from quotebot.models import Answer, Document
from quotebot.session import SessionState, follow_up, is_more
from quotebot.store.model import DocInfo

if TYPE_CHECKING:
    from quotebot.bot.answerer import Answerer
    from quotebot.bot.sessions import SessionStore
    from quotebot.engine import QuoteEngine

log = logging.getLogger(__name__)

LIBRARY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: Name prefixes of the libraries quotebot names itself (chats, web page sessions).
RESERVED_PREFIXES = ("tg-", "web-")
#: Library engines kept open at once (the least recently used is closed first).
OPEN_ENGINES = 32
#: Library changes run at once in this process (extracting and embedding take CPU).
WRITERS = 2


class InvalidLibraryName(QuotebotError):
    code = "invalid_library"
    http_status = 422


def check_name(name: str, *, reserved_ok: bool = False) -> str:
    """``name`` if it can name a library an API client chose; InvalidLibraryName else."""
    if not LIBRARY_NAME.fullmatch(name):
        shown = name if len(name) <= 70 else name[:70] + "…"
        raise InvalidLibraryName(
            f"{shown!r} is not a library name: use 1-64 lower-case letters, digits, - and _, "
            "starting with a letter or digit.")
    if not reserved_ok and name.startswith(RESERVED_PREFIXES):
        raise InvalidLibraryName(
            f"Library names starting with {' or '.join(RESERVED_PREFIXES)} are quotebot's "
            "own (chats' and web pages' libraries); choose another name.")
    return name


def chat_library(chat_id: int) -> str:
    """The library of a Telegram chat."""
    return f"tg-{chat_id}"


def session_library(session: str) -> str:
    """The library of a web page session (a hash: folder names never show the id)."""
    return "web-" + hashlib.sha256(session.encode()).hexdigest()[:32]


@dataclass(slots=True)
class _Open:
    generation: str
    engine: QuoteEngine


class Shelf:
    """The libraries in ``root``: their engines (opened on demand, at most ``capacity``,
    reopened when the library's index generation changes, as another replica or process
    may have written it) and their changes."""

    def __init__(self, root: str | Path, *, semantic: str = "auto",
                 capacity: int = OPEN_ENGINES) -> None:
        self.root = Path(root).expanduser().absolute()
        self.semantic = semantic
        self.capacity = capacity
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._lock = threading.Lock()
        self._writers = concurrent.futures.ThreadPoolExecutor(
            max_workers=WRITERS, thread_name_prefix="quotebot-library")

    def library(self, name: str, limits: LibraryLimits | None = None) -> Library:
        check_name(name, reserved_ok=True)
        return Library(self.root / name, limits)

    def close(self) -> None:
        self._writers.shutdown(wait=False, cancel_futures=True)

    # -- reading (call from a worker thread) -----------------------------------------------

    def engine(self, name: str) -> QuoteEngine | None:
        """The engine of library ``name`` at its current generation, or None when it has no
        documents (or does not exist)."""
        from quotebot.engine import QuoteEngine

        library = self.library(name)
        generation = library.generation()
        if generation is None:
            self._forget(name)
            return None
        with self._lock:
            found = self._open.get(name)
            if found is not None and found.generation == generation:
                self._open.move_to_end(name)
                return found.engine if len(found.engine.documents) else None
        index = library.load_index()
        engine = QuoteEngine(index, directory=library.index_dir)
        # Vectors are computed when documents are added; a library added to without them
        # is answered by words.
        engine.attach_semantic(self.semantic, compute=False)
        with self._lock:
            self._open[name] = _Open(index.generation, engine)
            self._open.move_to_end(name)
            while len(self._open) > self.capacity:
                self._open.popitem(last=False)
        return engine if len(index.docs) else None

    def _forget(self, name: str) -> None:
        with self._lock:
            self._open.pop(name, None)

    # -- changing (off the event loop) ----------------------------------------------------

    async def add(self, name: str, docs: list[Document], limits: LibraryLimits) -> AddResult:
        """Add ``docs`` to library ``name`` (created if need be)."""
        library = self.library(name, limits)
        result: AddResult = await self._write(library.add, docs, semantic=self.semantic)
        return result

    async def remove(self, name: str, doc_ids: list[str]) -> list[DocInfo]:
        library = self.library(name)
        if not library.exists():
            raise library._unknown()
        gone: list[DocInfo] = await self._write(library.remove, doc_ids, semantic=self.semantic)
        return gone

    async def documents(self, name: str) -> list[DocInfo] | None:
        """The documents of library ``name``, or None when there is no such library."""
        library = self.library(name)

        def read() -> list[DocInfo] | None:
            return library.documents() if library.exists() else None

        return await asyncio.to_thread(read)

    async def _write(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writers, lambda: func(*args, **kwargs))


def single(result: AddResult) -> Any:
    """The one document an add was for; its refusal raised."""
    if result.refused:
        raise result.refused[0][1]
    if not result.added:  # pragma: no cover - an add saves what it does not refuse
        raise LibraryError("The document could not be added.", code="library_error")
    return result.added[0]


# -- conversations with a library and the corpus ------------------------------------------


def library_key(conversation: str) -> str:
    """Where a conversation keeps its state with its library (its state with the corpus is
    under ``conversation`` itself)."""
    return f"{conversation}:lib"


@dataclass(frozen=True, slots=True)
class Turn:
    answer: Answer
    #: "library" or "corpus": who answered.
    source: str
    library_state: SessionState
    corpus_state: SessionState


def take_turn(library: QuoteEngine | None, corpus: QuoteEngine, library_state: SessionState,
              corpus_state: SessionState, text: str, k: int = 3) -> Turn:
    """One question of a conversation that has a library: asked of the library, then of the
    corpus when the library does not answer (see the module). Runs in a worker thread."""
    if library is None:
        answer, corpus_state = follow_up(corpus, corpus_state, text, k)
        return Turn(answer, "corpus", library_state, corpus_state)
    if is_more(text):
        if library_state.question is not None:
            answer, library_state = follow_up(library, library_state, text, k)
            return Turn(answer, "library", library_state, corpus_state)
        answer, corpus_state = follow_up(corpus, corpus_state, text, k)
        return Turn(answer, "corpus", library_state, corpus_state)
    answer, new_library = follow_up(library, library_state, text, k)
    if answer.answered:
        return Turn(answer, "library", new_library, replace(corpus_state, question=None))
    fallback, new_corpus = follow_up(corpus, corpus_state, text, k)
    if fallback.answered:
        return Turn(fallback, "corpus", replace(new_library, question=None), new_corpus)
    # Neither answers: say why about the articles the conversation brought.
    return Turn(answer, "library", new_library, replace(new_corpus, question=None))


async def converse(answerer: Answerer, shelf: Shelf, name: str, store: SessionStore,
                   conversation: str, text: str, k: int = 3,
                   library_state: SessionState | None = None,
                   corpus_state: SessionState | None = None) -> Turn:
    """:func:`take_turn` with the conversation's states from ``store`` (unless given), saved
    back afterwards. The caller holds the conversation's lock."""
    if library_state is None:
        library_state = await store.get(library_key(conversation))
    if corpus_state is None:
        corpus_state = await store.get(conversation)
    corpus = answerer.engine
    lib_state, corp_state = library_state, corpus_state

    def turn() -> Turn:
        return take_turn(shelf.engine(name), corpus, lib_state, corp_state, text, k)

    result: Turn = await answerer.run(turn)
    await store.put(library_key(conversation), result.library_state)
    await store.put(conversation, result.corpus_state)
    return result
