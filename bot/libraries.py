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
import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from quotebot.errors import QuotebotError
from quotebot.library import (
    LOCK,
    MANIFEST,
    AddedDocument,
    AddResult,
    Library,
    LibraryError,
    LibraryLimits,
)
from quotebot.models import Answer, Document
from quotebot.session import SessionState, follow_up, is_more
from quotebot.store.catalogue import LIBRARY_INDEX
from quotebot.store.model import DocInfo

from .adding import AddQueue

if TYPE_CHECKING:
    from quotebot.engine import QuoteEngine

    from .answerer import Answerer, Here
    from .sessions import SessionStore

log = logging.getLogger(__name__)

LIBRARY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: Name prefixes of the libraries quotebot names itself (chats, web page sessions).
RESERVED_PREFIXES = ("tg-", "web-")
#: Library engines kept open at once (the least recently used is closed first).
OPEN_ENGINES = 32
T = TypeVar("T")


class UnreadablePage(QuotebotError):
    """A page or file whose text cannot be decoded (an unknown or broken charset)."""

    code = "unreadable_page"
    http_status = 422


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


#: Store keys marking the libraries of live web page sessions (they expire with them).
_KEPT = "weblib:"


async def keep_session_library(shelf: Shelf, store: SessionStore, name: str, *,
                               only_if_kept: bool = False) -> None:
    """Mark web page session library ``name`` as in use for another session lifetime (with
    ``only_if_kept``: only if it is marked already, i.e. the session added something): in
    ``store``, and on its folder's time of change, which every process sharing the data
    folder sees (see :func:`sweep_session_libraries`)."""
    if only_if_kept and await store.find(_KEPT + name) is None:
        return
    await store.put(_KEPT + name, SessionState())
    await asyncio.to_thread(shelf.touch, name)


async def sweep_session_libraries(shelf: Shelf, store: SessionStore, *,
                                  idle: float | None = None) -> list[str]:
    """Remove the libraries of web page sessions that ended; returns their names.

    A session ended when ``store`` no longer has it (expired, or forgotten by a restart).
    With ``idle`` (seconds: the sessions' lifetime), the store is not asked, for it does not
    know every session (several processes, each with its own memory): a session ended when
    its library's folder has not been touched for that long, since every question of the
    session touches it."""
    gone = []
    for name in await asyncio.to_thread(shelf.session_libraries):
        if idle is not None:
            ended = await asyncio.to_thread(shelf.idle_for, name) > idle
        else:
            ended = await store.find(_KEPT + name) is None
        if ended:
            await shelf.drop(name)
            gone.append(name)
    if gone:
        log.info("removed the libraries of %d ended web page sessions", len(gone))
    return gone


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
                 capacity: int = OPEN_ENGINES, adds: AddQueue | None = None) -> None:
        self.root = Path(root).expanduser().absolute()
        self.semantic = semantic
        self.capacity = capacity
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._lock = threading.Lock()
        #: Where changes run: apart from answering, each library's in its turn.
        self.adds = adds or AddQueue(warm=functools.partial(warm_adding_process, semantic))

    def library(self, name: str, limits: LibraryLimits | None = None) -> Library:
        check_name(name, reserved_ok=True)
        return Library(self.root / name, limits)

    def close(self) -> None:
        self.adds.close()

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

    def session_libraries(self, *, saved: bool = False) -> list[str]:
        """The names of the web page sessions' libraries (``saved``: only those holding a
        saved index, not a folder a user's file kept)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.name.startswith("web-") and LIBRARY_NAME.fullmatch(p.name)
                      and (not saved or self.library(p.name).exists()))

    def touch(self, name: str) -> None:
        """Set the time of change of library ``name``'s folder (if it has one) to now."""
        with contextlib.suppress(OSError):
            os.utime(self.root / name)

    def idle_for(self, name: str) -> float:
        """Seconds since library ``name``'s folder was changed or touched (0 if it is gone)."""
        try:
            return time.time() - (self.root / name).stat().st_mtime
        except OSError:
            return 0.0

    def session_libraries_bytes(self) -> int:
        """Bytes the files of all web page sessions' libraries take."""
        total = 0
        for name in self.session_libraries():
            for folder, _, files in os.walk(self.root / name):
                for file in files:
                    with contextlib.suppress(OSError):
                        total += os.lstat(os.path.join(folder, file)).st_size
        return total

    # -- changing (in the adding processes, see quotebot.bot.adding) -----------------------

    async def add(self, name: str, extract: Callable[[], Document], limits: LibraryLimits,
                  *, suggest: int = 0, started: asyncio.Event | None = None
                  ) -> tuple[AddedDocument, list[str]]:
        """Extract a document (``extract`` must pickle: a module-level function or a
        ``functools.partial`` of one) and add it to library ``name`` (created if need be),
        in its turn; with ``suggest``, up to that many questions it answers too. A refusal
        is raised. ``started`` is set when the add leaves the queue for its process."""
        check_name(name, reserved_ok=True)
        result: tuple[AddedDocument, list[str]] = await self.adds.run(
            name, add_document, str(self.root / name), limits, self.semantic, extract, suggest,
            started=started)
        return result

    async def remove(self, name: str, doc_ids: list[str],
                     started: asyncio.Event | None = None) -> list[DocInfo]:
        library = self.library(name)
        if not library.exists():
            raise library._unknown()
        gone: list[DocInfo] = await self.adds.run(name, remove_documents, str(library.root),
                                                  doc_ids, self.semantic, started=started)
        return gone

    async def drop(self, name: str) -> None:
        """Remove library ``name`` (see :func:`drop_library`)."""
        check_name(name, reserved_ok=True)
        await self.adds.run(name, drop_library, str(self.root / name))
        self._forget(name)

    async def documents(self, name: str) -> list[DocInfo] | None:
        """The documents of library ``name``, or None when there is no such library."""
        library = self.library(name)

        def read() -> list[DocInfo] | None:
            return library.documents() if library.exists() else None

        return await asyncio.to_thread(read)


# -- what the adding processes run ----------------------------------------------------------


def warm_adding_process(semantic: str) -> None:
    """Load the sentence model now (unless ``semantic`` is off), as an add would."""
    if semantic == "off":
        return
    from quotebot.semantic import Encoder, SemanticUnavailable

    with contextlib.suppress(SemanticUnavailable):
        Encoder.load()


def add_document(root: str, limits: LibraryLimits, semantic: str,
                 extract: Callable[[], Document], suggest: int
                 ) -> tuple[AddedDocument, list[str]]:
    """Extract a document and add it to the library in ``root``; with questions it answers
    when ``suggest`` asks for them."""
    added: AddedDocument = single(Library(root, limits).add([extracted(extract)],
                                                            semantic=semantic))
    return added, suggestions(Library(root), added.doc, suggest) if suggest else []


def remove_documents(root: str, doc_ids: list[str], semantic: str) -> list[DocInfo]:
    return Library(root).remove(doc_ids, semantic=semantic)


def drop_library(root: str) -> None:
    """Remove the library in ``root``: the documents quotebot added, its index, and its
    folder when nothing else is left in it (a file someone else put there stays)."""
    library = Library(root)
    if library.exists():
        for info in library.documents():
            try:
                library.remove([info.id], semantic="off")
            except QuotebotError:  # a file quotebot did not add: it stays
                continue
    if not library.root.is_dir():
        return
    if all(p.name in (MANIFEST, LOCK, LIBRARY_INDEX) for p in library.root.iterdir()):
        shutil.rmtree(library.root, ignore_errors=True)
    else:  # no longer a library, though someone's files stay
        shutil.rmtree(library.index_dir, ignore_errors=True)


def suggestions(library: Library, doc: str, n: int) -> list[str]:
    """Up to ``n`` questions document ``doc`` of ``library`` answers."""
    from quotebot.engine import QuoteEngine
    from quotebot.suggest import suggest_questions

    try:
        return suggest_questions(QuoteEngine(library.load_index()), doc=doc, n=n)
    except QuotebotError:
        return []


def text_document(text: str, title: str | None, url: str | None) -> Document:
    """A document of ``text`` sent as it is, titled ``title`` (else from its first line)."""
    from quotebot.corpus import document_from_text

    doc = document_from_text(text.replace("\r\n", "\n"), "document")
    return replace(doc, title=" ".join(title.split()) if title and title.strip() else doc.title,
                   url=url or doc.url)


#: HTTP statuses of extraction errors (all about what the client sent, never the server).
_EXTRACTION_STATUS = {"unsupported_file": 415, "file_too_large": 413,
                      "document_too_large": 413}


def extracted(extract: Callable[[], Document]) -> Document:
    """The document ``extract`` gives, checked: text in it, else a QuotebotError; a page
    that cannot be decoded is UnreadablePage, whatever the extractor raised."""
    from quotebot.errors import CorpusError

    try:
        doc = extract()
    except CorpusError as exc:
        exc.http_status = _EXTRACTION_STATUS.get(exc.code, 422)
        raise
    except (UnicodeError, LookupError):
        raise UnreadablePage("That page cannot be read: its text is in an encoding that "
                             "cannot be decoded. Send it as a .txt or .pdf file instead."
                             ) from None
    if not doc.text.strip():
        empty = QuotebotError("That page or file has no text in it.", code="corpus_empty")
        empty.http_status = 422
        raise empty
    return doc


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


def conversation_turn(here: Here, name: str, library_state: SessionState,
                      corpus_state: SessionState, text: str, k: int) -> Turn:
    """:func:`take_turn` with library ``name`` (a job of Answerer.call)."""
    assert here.shelf is not None
    return take_turn(here.shelf.engine(name), here.corpus, library_state, corpus_state, text,
                     k)


def library_turn(here: Here, name: str, state: SessionState, text: str, k: int,
                 doc: str | None) -> tuple[Answer, SessionState] | None:
    """One turn of a conversation with library ``name`` alone (a job of Answerer.call);
    None when it has no documents."""
    assert here.shelf is not None
    engine = here.shelf.engine(name)
    if engine is None:
        return None
    return follow_up(engine, state, text, k, doc=doc)


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
    result: Turn = await answerer.call(conversation_turn, name, library_state, corpus_state,
                                       text, k, shelf=shelf)

    async def save() -> None:
        await store.put(library_key(conversation), result.library_state)
        await store.put(conversation, result.corpus_state)

    # Both or neither: a turn cancelled between the two (its client hung up) would leave the
    # conversation half a turn on. Saved before the conversation's lock is let go.
    saving = asyncio.ensure_future(save())
    try:
        await asyncio.shield(saving)
    except asyncio.CancelledError:
        await saving
        raise
    return result
