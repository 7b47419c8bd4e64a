"""What every front end shares: opening the engine (with progress for long builds), naming
documents, example questions, and turning quotebot's errors into one clear message (CLI) or
one error shape (JSON).

The CLI, ``quotebot eval``, the HTTP server and the Telegram bot import this module;
it imports none of them.
"""

from __future__ import annotations

import errno
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from quotebot.errors import CorpusError, QuotebotError, UnknownDocument

if TYPE_CHECKING:
    from quotebot.engine import QuoteEngine

F = TypeVar("F", bound=Callable[..., Any])

EXAMPLE_QUESTIONS = (
    "how many stabbings?",
    "who went to New York?",
    "When did the officers travel to New York?",
    "Who is the deputy mayor for policing?",
)


def dumps(data: Any) -> str:
    """JSON as quotebot prints it: one line, non-ASCII kept readable."""
    return json.dumps(data, ensure_ascii=False)


def json_mode() -> bool:
    """True when the running click command was given ``--json``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.params.get("as_json"))


def fail(error: QuotebotError, *, as_json: bool, exit_code: int = 1) -> NoReturn:
    """Report an error in the one shape (JSON on stdout, or a sentence on stderr) and exit."""
    if as_json:
        click.echo(dumps(error.to_json()))
    else:
        click.echo(f"Error: {error.message}", err=True)
    sys.exit(exit_code)


def handle_errors(func: F) -> F:
    """Turn quotebot's errors into one clear message and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QuotebotError as exc:
            fail(exc, as_json=json_mode())
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(0)
        except OSError as exc:
            listening = _cannot_listen(exc)
            if listening is None:
                raise
            fail(listening, as_json=json_mode())

    return wrapper  # type: ignore[return-value]


_ADDRESS = re.compile(r"\('?([^',]*)'?, (\d+)\)")


def _cannot_listen(exc: OSError) -> QuotebotError | None:
    """A server's port already taken (or not allowed), as one sentence."""
    if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
        return None
    found = _ADDRESS.search(str(exc))
    where = f"{found.group(1)}:{found.group(2)}" if found else "that address"
    if exc.errno == errno.EADDRINUSE:
        return QuotebotError(f"Cannot listen on {where}: another program is using it. Stop "
                             f"it, or choose another port with --port.", code="address_in_use")
    if exc.errno == errno.EACCES:
        return QuotebotError(f"Cannot listen on {where}: permission denied (ports below 1024 "
                             f"need privileges). Choose another port with --port.",
                             code="address_not_allowed")
    return QuotebotError(f"Cannot listen on {where}: this machine has no such address. "
                         f"Check --host.", code="address_not_available")


def open_engine(corpus: str | None, index_dir: str | None, semantic: str = "off",
                search_url: str | None = None) -> QuoteEngine:
    """The engine a command works with (``semantic="off"`` for those that only read).

    Building the index or embedding its sentences, when either takes over a second, is
    reported on stderr (see :func:`quotebot.indexing.progress_lines`). With
    ``search_url`` (``xapian://HOST:PORT,…``), the engine answers from those shard servers
    alone (``corpus`` and ``index_dir`` are not read), after checking that they are all
    there and hold one corpus.
    """
    from quotebot.engine import QuoteEngine
    from quotebot.indexing import progress_lines
    from quotebot.semantic import resolve_mode
    from quotebot.store.catalogue import open_index

    mode = resolve_mode(semantic)
    if search_url:
        from quotebot.xapian_backend import open_sharded_engine

        return open_sharded_engine(search_url, mode)
    indexing, embedding = progress_lines(corpus)
    try:
        index, directory = open_index(_checked_corpus(corpus), index_dir, progress=indexing)
    finally:
        indexing.close()
    engine = QuoteEngine(index)
    try:
        engine.attach_semantic(mode, directory, progress=embedding)
    finally:
        embedding.close()
    return engine


def _checked_corpus(corpus: str | None) -> str | None:
    """``corpus``, after checking that the path exists, in an error naming where it came from:
    ``--corpus`` or ``$QUOTEBOT_CORPUS``."""
    from quotebot.corpus import CORPUS_ENV

    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("corpus") if ctx is not None else None
    if corpus is None or Path(corpus).expanduser().exists():
        return corpus
    if source is click.core.ParameterSource.ENVIRONMENT:
        raise CorpusError(f"{CORPUS_ENV} names {corpus!r}, which does not exist. Set it to a "
                          f".txt/.md article or a folder of them, or unset it to use the "
                          f"shipped article.", code="corpus_not_found")
    return corpus  # the corpus's own error names --corpus


def resolve_doc(engine: QuoteEngine, name: str) -> str:
    """The id of the document a user names by its id, its file name or its path
    (``cup-final``, ``cup-final.txt``, ``articles/cup-final.txt``); UnknownDocument else."""
    docs = engine.documents
    if any(d.id == name for d in docs):
        return name
    path = Path(name).expanduser()
    wanted = _resolved(path)
    for doc in docs:
        if doc.path and _resolved(Path(doc.path)) == wanted:
            return doc.id
    by_name = [d.id for d in docs if d.path and Path(d.path).name == path.name]
    if len(by_name) == 1:
        return by_name[0]
    if path.suffix.lower() in (".txt", ".md") and any(d.id == path.stem for d in docs):
        return path.stem
    by_prefix = id_by_prefix([d.id for d in docs], name)
    if by_prefix is not None:
        return by_prefix
    return engine.document(name).id  # raises UnknownDocument, listing the known ones


def id_by_prefix(ids: list[str], prefix: str) -> str | None:
    """The one id that starts with ``prefix`` (``nordvik`` for ``nordvik-audio-opens``), None
    when none does; UnknownDocument naming them when several do."""
    wanted = prefix.strip().lower()
    if not wanted:
        return None
    matches = [doc_id for doc_id in ids if doc_id.lower().startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:10]) + (" …" if len(matches) > 10 else "")
        raise UnknownDocument(f"{prefix!r} could be any of {len(matches)} documents: {shown}. "
                              "Give more of its id.")
    return None


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def counted(n: int, noun: str) -> str:
    """"1 sentence", "2,450 sentences": a count with its noun, singular for one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"

