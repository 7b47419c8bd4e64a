"""The ``quotebot`` command: ask, repl, show, docs, add, forget, index, eval, serve, telegram.

Heavy imports (the engine, the bot stack) happen inside the commands that need
them, so ``quotebot --help`` and ``quotebot ask`` start quickly.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from quotebot.errors import QuotebotError
from quotebot.frontend import (
    counted,
    dumps,
    handle_errors,
    open_engine,
    resolve_doc,
)
from quotebot.options import (
    answering_options,
    corpus_option,
    index_option,
    json_option,
    search_url_option,
    semantic_option,
)

if TYPE_CHECKING:
    from quotebot.engine import QuoteEngine
    from quotebot.models import Answer

def _use_color(color: bool | None) -> bool:
    if color is not None:
        return color
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


# -- the group -------------------------------------------------------------------------------

#: Where the logging options given anywhere on the command line are kept (the root context).
_LOGGING = "quotebot.logging"


def _logging_option(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--log-level``/``--log-format`` after the command mean what they mean before it."""
    if value is None:
        return
    from quotebot.logs import configure_logging

    settings = ctx.find_root().meta.setdefault(_LOGGING, {"log_level": "WARNING",
                                                         "log_format": "text"})
    settings[str(param.name)] = value
    configure_logging(settings["log_level"], settings["log_format"])


def _global_options() -> list[click.Option]:
    return [
        click.Option(["--log-level"], type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                                        case_sensitive=False),
                     default=None, expose_value=False, callback=_logging_option,
                     help="How much to log (to stderr); also before the command."),
        click.Option(["--log-format"], type=click.Choice(["text", "json"]), default=None,
                     expose_value=False, callback=_logging_option,
                     help="Log lines as text or JSON; also before the command."),
    ]


class QuotebotGroup(click.Group):
    """The command group: global options work after any command as well as before it, and
    a question typed without ``ask`` is answered with the command to type."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        names = {p.name for p in cmd.params}
        cmd.params.extend(o for o in _global_options() if o.name not in names)
        super().add_command(cmd, name)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        if (args and args[0] not in self.commands and not args[0].startswith("-")
                and not difflib.get_close_matches(args[0], list(self.commands), cutoff=0.6)):
            # Not a misspelt command (click suggests those): most likely a question.
            words = [a for a in args if not a.startswith("-")]
            raise click.UsageError(
                f"No command {args[0]!r}. To ask a question, type: "
                f"quotebot ask {_shell_quote(' '.join(words))}", ctx)
        return super().resolve_command(ctx, args)


def _shell_quote(text: str) -> str:
    """``text`` as one shell word, in double quotes when those keep it as it is."""
    if not any(ch in text for ch in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)


@click.group(cls=QuotebotGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(None, "-V", "--version", package_name="quotebot")
@click.option("--log-level", envvar="QUOTEBOT_LOG_LEVEL", default="WARNING", show_envvar=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="How much to log (to stderr).", show_default=True)
@click.option("--log-format", envvar="QUOTEBOT_LOG_FORMAT", default="text", show_envvar=True,
              type=click.Choice(["text", "json"]), show_default=True,
              help="Log lines as text or as one JSON object per line.")
@click.pass_context
def main(ctx: click.Context, log_level: str, log_format: str) -> None:
    """Answer questions about articles by quoting them.

    With no command, starts the REPL on the default article:

    \b
        $ quotebot
        quotebot> how many stabbings?
        Answer: 72
        1. The capital has seen at least 127 homicides, … with 72 fatal stabbings …

    \b
    --log-level and --log-format work before or after the command. Tab completion:
        eval "$(_QUOTEBOT_COMPLETE=bash_source quotebot)"    # in ~/.bashrc
    """
    from quotebot.logs import configure_logging

    ctx.meta[_LOGGING] = {"log_level": log_level, "log_format": log_format}
    configure_logging(log_level, log_format)
    if ctx.invoked_subcommand is None:
        ctx.invoke(repl)


# -- ask ---------------------------------------------------------------------------------------


doc_option = click.option(
    "--doc", "doc", metavar="DOC", default=None,
    help="Answer from this document alone (its id from `quotebot docs`, or its file name).")


@main.command()
@click.argument("question", nargs=-1, required=True, metavar='"QUESTION"')
@answering_options
@doc_option
@search_url_option
@handle_errors
def ask(question: tuple[str, ...], corpus: str | None, index_dir: str | None, semantic: str,
        k: int, as_json: bool, color: bool | None, doc: str | None, search_url: str | None
        ) -> None:
    """Answer one QUESTION with quotes from the corpus. Put the question in quotes.

    \b
    Examples:
        quotebot ask "how many stabbings?"
        quotebot ask "who went to New York?" --json
        quotebot ask "what did the mayor announce?" --corpus ~/articles -k 5
        quotebot ask "who won?" --corpus ~/articles --doc cup-final.txt
        quotebot ask "who won?" --search-url xapian://10.0.0.5:7001,10.0.0.6:7001
    """
    from quotebot.question import validate_question
    from quotebot.render import render_text
    from quotebot.session import answer_once

    if len(question) > 1:
        raise click.UsageError(
            "The question must be one argument: put it in quotes, like this:\n"
            f"    {_retyped(question)}")
    text = validate_question(question[0])  # fail fast, before any index is opened
    engine = open_engine(corpus, index_dir, semantic, search_url)
    answer = answer_once(engine, text, k, doc=resolve_doc(engine, doc) if doc else None)
    if as_json:
        click.echo(dumps(answer.to_json()))
    else:
        use_color = _use_color(color)
        # click strips ANSI codes when stdout is not a terminal unless told otherwise.
        click.echo(render_text(answer, color=use_color), color=use_color)


def _retyped(words: tuple[str, ...]) -> str:
    """The command line that was typed, with the question's words as one quoted argument."""
    argv = sys.argv[1:]
    if "ask" in argv:
        head = argv[:argv.index("ask") + 1]
        rest = argv[argv.index("ask") + 1:]
        for word in words:  # the question's words, in order, among the options
            if word in rest:
                rest.remove(word)
        return " ".join(["quotebot", *map(_shell_word, head), _shell_quote(" ".join(words)),
                         *map(_shell_word, rest)])
    return f"quotebot ask {_shell_quote(' '.join(words))}"


def _shell_word(word: str) -> str:
    return word if shlex.quote(word) == word else _shell_quote(word)


# -- repl -----------------------------------------------------------------------------------

REPL_HELP = """\
Type a question about the article and press Enter.
  more            the next passages for the last question
  what about X?   the last question, about X instead
  :sources        the documents being searched
  :doc DOC        answer from document DOC alone (:doc alone: from all of them again)
  :new            forget the conversation (follow-ups start afresh)
  :save FILE      save the conversation so far, quotes and citations, as Markdown
                  (or as JSON when FILE ends in .json)
  :help           this help
  :quit           leave (or Ctrl-D)
"""


def repl_help(engine: Any) -> str:
    """The REPL's help, with example questions made from the documents being asked (and
    answered by them: see quotebot.suggest)."""
    from quotebot.suggest import suggest_questions

    examples = suggest_questions(engine, n=3)
    if not examples:
        return REPL_HELP + "Ask about anything the documents say."
    return REPL_HELP + "Examples: " + " | ".join(examples)

#: The REPL's commands and their other names.
REPL_COMMANDS = {
    ":quit": (":quit", ":q", ":exit", "quit", "exit"),
    ":help": (":help", ":h", "help", "?"),
    ":sources": (":sources", ":docs"),
    ":doc": (":doc",),
    ":new": (":new", ":reset"),
    ":save": (":save",),
}
#: Commands that take an argument.
_WITH_ARGUMENT = (":doc", ":save")


class Transcript:
    """The REPL's conversation so far (since it started or since :new), and the files it
    saved in it, which :save may write again."""

    def __init__(self) -> None:
        self.turns: list[Answer] = []
        self.saved: set[Path] = set()

    def new(self) -> None:
        """A new conversation: its :save never writes over the last one's file."""
        self.turns.clear()
        self.saved.clear()

    def save(self, argument: str) -> Path:
        """Write the conversation to file ``argument``: JSON when its name ends in .json
        (each question with its answer in the answers' JSON shape, as the web page saves it),
        else Markdown; never over a file this conversation did not write."""
        from quotebot.render import render_markdown

        path = Path(argument).expanduser()
        if not argument or path.name.lower() in ("", ".", "..", ".json", ".md"):
            raise QuotebotError("Name the file to save to, e.g. :save notes.md",
                                code="missing_file_name")
        try:
            if argument.endswith(("/", os.sep)) or path.is_dir():
                raise QuotebotError(f"{argument!r} is a folder: name a file in it, e.g. "
                                    f":save {path / 'notes.md'}", code="file_is_folder")
            if path.exists() and path.resolve() not in self.saved:
                raise QuotebotError(f"{argument!r} exists already: :save to another name "
                                    f"(quotebot writes again only the file it saved in this "
                                    f"conversation).", code="file_exists")
            # The Markdown ends with its own line break, as the web page's download.
            text = (json.dumps({"turns": [{"question": a.question, "answer": a.to_json()}
                                          for a in self.turns]}, ensure_ascii=False, indent=2)
                    + "\n" if path.suffix.lower() == ".json" else render_markdown(self.turns))
            path.write_text(text, encoding="utf-8")
            self.saved.add(path.resolve())
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise QuotebotError(f"Could not write {argument!r}: {reason}.",
                                code="cannot_write") from None
        return path


@main.command()
@answering_options
@doc_option
@search_url_option
@handle_errors
def repl(corpus: str | None, index_dir: str | None, semantic: str, k: int, as_json: bool,
         color: bool | None, doc: str | None, search_url: str | None) -> None:
    """Ask questions one after another; follow-ups ("more", "what did she say?") work.

    On a terminal it has history and line editing. With piped input it reads one
    question per line and prints each after a `quotebot>` prompt; with --json it prints
    one JSON object per line (JSON Lines).

    \b
    Examples:
        quotebot repl
        quotebot repl --corpus ~/articles --doc cup-final
        printf 'how many stabbings?\\nmore\\n' | quotebot repl --json
    """
    from quotebot.session import Session

    engine = open_engine(corpus, index_dir, semantic, search_url)
    session = Session(engine, doc=resolve_doc(engine, doc) if doc else None)
    interactive = sys.stdin.isatty() and not as_json
    use_color = _use_color(color)
    transcript = Transcript()
    try:
        if interactive:
            _interactive_loop(session, k, use_color, transcript)
        else:
            for line in sys.stdin:
                line = line.strip()
                if line and not as_json:
                    # Piped questions are not echoed by a terminal: show each with its answer.
                    click.echo(f"{_prompt(session)}{line}")
                if not _repl_turn(session, line, k, as_json, use_color, transcript):
                    break
    finally:
        if search_url:
            from quotebot.xapian_backend import close_shards

            close_shards(session.engine)


def _prompt(session: Any) -> str:
    return f"quotebot ({session.doc})> " if session.doc else "quotebot> "


def _interactive_loop(session: Any, k: int, color: bool, transcript: Transcript) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    history: Any = InMemoryHistory()
    state_dir = os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser(
        "~/.local/state"), "quotebot")
    try:
        os.makedirs(state_dir, exist_ok=True)
        history = FileHistory(os.path.join(state_dir, "history"))
    except OSError:
        pass
    docs = session.engine.documents
    sentences = sum(d.sentences for d in docs)
    names = ", ".join(d.id for d in docs[:3]) + (" …" if len(docs) > 3 else "")
    click.echo(f"quotebot — {len(docs)} document(s), {sentences} sentences ({names}).")
    click.echo("Ask a question, 'more' for more, :help for help, :quit to leave.")
    prompt: PromptSession[str] = PromptSession(history=history)
    while True:
        try:
            line = prompt.prompt(_prompt(session))
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        if not _repl_turn(session, line.strip(), k, False, color, transcript):
            return


def _repl_turn(session: Any, line: str, k: int, as_json: bool, color: bool,
               transcript: Transcript) -> bool:
    """Handle one line; False means quit."""
    from quotebot.render import render_text
    from quotebot.session import SessionState

    if not line:
        return True
    word, _, argument = line.partition(" ")
    command = next((name for name, spellings in REPL_COMMANDS.items()
                    if word.lower() in spellings and (name in _WITH_ARGUMENT or not argument)),
                   None)
    try:
        if command == ":quit":
            return False
        if command == ":help":
            shown = repl_help(session.engine)
            click.echo(dumps({"help": shown}) if as_json else shown)
            return True
        if command == ":sources":
            _print_docs(session.engine, as_json)
            return True
        if command == ":new":
            session.state = SessionState()
            transcript.new()
            click.echo(dumps({"reset": True}) if as_json else "(new conversation)")
            return True
        if command == ":doc":
            _choose_doc(session, argument.strip(), as_json)
            return True
        if command == ":save":
            path = transcript.save(argument.strip())
            turns = len(transcript.turns)
            click.echo(dumps({"saved": str(path), "questions": turns}) if as_json else
                       f"(saved {turns} question{'s' if turns != 1 else ''} to {path})")
            return True
        if line.startswith(":"):
            raise QuotebotError(
                f"Unknown command {word!r}. Commands: {', '.join(REPL_COMMANDS)} "
                f"(:help explains them). Anything else is a question.", code="unknown_command")
        if session.engine.search is not session.engine.index:
            # Answering from search shards: a document added to them since is answered.
            from quotebot.xapian_backend import close_shards, newer_engine

            fresh = newer_engine(session.engine)
            if fresh is not None:
                close_shards(session.engine)
                session.engine = fresh
        answer: Answer = session.ask(line, k)
        transcript.turns.append(answer)
    except QuotebotError as exc:
        if as_json:
            click.echo(dumps(exc.to_json()))
        else:
            click.echo(f"Error: {exc.message}")
        return True
    click.echo(dumps(answer.to_json()) if as_json else render_text(answer, color=color),
               color=color)
    if not as_json:
        click.echo()
    sys.stdout.flush()
    return True


def _choose_doc(session: Any, name: str, as_json: bool) -> None:
    """``:doc DOC`` answers from DOC alone; ``:doc`` from every document again."""
    session.doc = resolve_doc(session.engine, name) if name else None
    if as_json:
        click.echo(dumps({"doc": session.doc}))
    elif session.doc:
        click.echo(f"(answering from {session.doc} alone; :doc to search every document)")
    else:
        click.echo("(answering from every document)")


# -- show / docs ---------------------------------------------------------------------------


@main.command()
@click.argument("doc")
@corpus_option
@index_option
@search_url_option
@json_option
@handle_errors
def show(doc: str, corpus: str | None, index_dir: str | None, search_url: str | None,
         as_json: bool) -> None:
    """Print document DOC exactly as indexed, so quote offsets can be checked. DOC is its
    id (from `quotebot docs`), its file name or its path.

    \b
    Examples:
        quotebot show met-police-nypd-visit
        quotebot show cup-final.txt --corpus ~/articles
        quotebot show met-police-nypd-visit --json | jq -r '.text[2208:2351]'
        quotebot show cup-final --search-url xapian://10.0.0.5:7001,10.0.0.6:7001
    """
    engine = open_engine(corpus, index_dir, search_url=search_url)
    document = engine.document(resolve_doc(engine, doc))
    if as_json:
        # Where the document came from, when it is known (an added page or a front matter).
        known = {key: value for key, value in (("url", document.url), ("author", document.author),
                                               ("date", document.date)) if value}
        click.echo(dumps({"doc": document.id, "title": document.title, **known,
                          "text": document.text}))
    else:
        click.echo(document.text, nl=not document.text.endswith("\n"))


@main.command()
@corpus_option
@index_option
@json_option
@handle_errors
def docs(corpus: str | None, index_dir: str | None, as_json: bool) -> None:
    """List the documents in the corpus with their sentence counts.

    \b
    Examples:
        quotebot docs
        quotebot docs --corpus ~/articles --json
    """
    _print_docs(open_engine(corpus, index_dir), as_json)


def _print_docs(engine: QuoteEngine, as_json: bool) -> None:
    rows = [{"doc": d.id, "title": d.title, "sentences": d.sentences} for d in engine.documents]
    if as_json:
        click.echo(dumps({"documents": rows}))
        return
    width = max((len(d.id) for d in engine.documents), default=3)
    for r in rows:
        click.echo(f"{r['doc']:<{width}}  {r['sentences']:>6} sentences  {r['title']}")


# -- add / forget ----------------------------------------------------------------------------


class _SlowSteps:
    """Says on stderr what a command is doing, once it has taken over ``delay`` seconds: the
    step under way then, and every step after it (quick work stays quiet). On a terminal
    (``live``) the step is one status line, redrawn in place, that a progress bar takes over
    and that is cleared at the end; else each step is a line of its own."""

    def __init__(self, delay: float = 1.0, *, live: bool | None = None) -> None:
        import threading

        self._current = ""
        self._shown = False
        self._live = sys.stderr.isatty() if live is None else live
        self._drawn = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(delay, self._show_current)
        self._timer.daemon = True
        self._timer.start()

    def _show_current(self) -> None:
        with self._lock:
            self._shown = True
            if self._current:
                self._say(self._current)

    def _say(self, text: str) -> None:
        if self._live:
            # "\r" and erase-to-end: the step replaces the last one on the same line.
            click.echo(f"\r\x1b[K{text}…", err=True, nl=False)
            self._drawn = True
        else:
            click.echo(f"{text}…", err=True)

    def step(self, text: str) -> None:
        with self._lock:
            self._current = text
            if self._shown:
                self._say(text)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._drawn:
                click.echo("\r\x1b[K", err=True, nl=False)  # what follows starts clean
                self._drawn = False
            self._shown = False  # a step the timer still shows after this is not drawn
            self._current = ""


def _source_label(source: str) -> str:
    """A source as messages name it: a link by its address, a path as given."""
    from quotebot.ingest import is_url

    return source.strip() if is_url(source) else source


limit_options = [
    click.option("--max-documents", type=click.IntRange(min=0), default=10_000,
                 show_default=True, help="Documents the library may hold at most (0: no limit)."),
    click.option("--max-document-mb", type=click.FloatRange(min=0), default=50.0,
                 show_default=True, help="Megabytes of text one document may have (0: no limit)."),
    click.option("--max-library-mb", type=click.FloatRange(min=0), default=1024.0,
                 show_default=True,
                 help="Megabytes of text all documents together may have (0: no limit)."),
]


def _limits(max_documents: int, max_document_mb: float, max_library_mb: float) -> Any:
    from quotebot.library import MB, LibraryLimits

    return LibraryLimits(max_documents, int(max_document_mb * MB), int(max_library_mb * MB))


def _with_limits(func: Any) -> Any:
    for option in reversed(limit_options):
        func = option(func)
    return func


@main.command()
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--to", "to", default=None, metavar="DIR", type=click.Path(path_type=str),
              help="The library folder (created if missing); --corpus DIR answers from it.")
@click.option("--search-url", "search_url", default=None, metavar="URL",
              help="Add to Xapian shards instead of a folder: their writable servers "
                   "(xapian-tcpsrv --writable), xapian://HOST:PORT,HOST:PORT, shard-0 first.")
@click.option("--id", "doc_id", metavar="ID", default=None,
              help="The document's id (one SOURCE only); by default its file's name, or for "
                   "a link the link's last part or its title.")
@semantic_option
@json_option
@_with_limits
@handle_errors
def add(sources: tuple[str, ...], to: str | None, search_url: str | None, doc_id: str | None,
        semantic: str, as_json: bool, max_documents: int, max_document_mb: float,
        max_library_mb: float) -> None:
    """Add articles to a library folder: each SOURCE is a file (.txt, .md, .html, .pdf), a
    folder of them, or an http(s) link. The text is extracted, saved in DIR as a .txt with
    its title, link, author and date, and DIR's saved index is updated, so that the next
    `quotebot ask … --corpus DIR` answers at once. Adding the same link, or a file of the
    same name (edited since), again replaces it and keeps its id.
    A document's id is its file's name (report.pdf: report), or --id.

    With --search-url instead of --to, the documents go to Xapian shards (`quotebot index
    --shards N`) through servers started with `xapian-tcpsrv --writable` on every shard's
    folder: each to the shard its id hashes to, with the corpus's statistics updated on
    every shard, so servers answering from the shards answer about it within seconds.

    A source that cannot be read is reported (and the exit status is 1), and the others are
    still added. When a page's article is less than half of the words the page shows, a note
    says so. With --json, one JSON object per line: {"doc", "title", "url"?, "sentences"}
    (and for a page "kept_words", "page_words") for each document added, {"source",
    "error"} for each source that failed.

    \b
    Examples:
        quotebot add https://example.org/news/story --to ~/articles
        quotebot add saved-page.html report.pdf notes/ --to ~/articles
        quotebot add https://example.org/2024/03/14/ --id budget --to ~/articles
        quotebot add report.pdf --search-url xapian://10.0.0.5:7101,10.0.0.6:7101
        quotebot ask "who resigned?" --corpus ~/articles
        quotebot forget story --from ~/articles
    """
    from dataclasses import replace

    from quotebot.ingest import check_link, is_url, load_source, slugify

    if (to is None) == (search_url is None):
        raise click.UsageError("Say where to add: --to DIR (a library folder) or --search-url "
                               "xapian://HOST:PORT,… (writable shard servers), one of them.")
    if search_url is not None:
        from quotebot.xapian_backend import parse_search_url

        parse_search_url(search_url)  # a malformed URL stops here, before any reading
    new_id = slugify(doc_id) if doc_id is not None else None
    if doc_id is not None and (not new_id or len(sources) != 1):
        raise click.UsageError("--id names one document: give one SOURCE, and an id of "
                               "letters, digits and hyphens (e.g. --id budget-2024).")
    failed: list[tuple[str, QuotebotError]] = []
    # A link that cannot be fetched (its scheme, its host, a private address) is said so at
    # once, before the seconds that loading the index's machinery takes.
    readable = []
    for source in sources:
        try:
            if is_url(source):
                check_link(source)
            readable.append(source)
        except QuotebotError as exc:
            failed.append((_source_label(source), exc))
    if not readable:
        _report_failed(failed, as_json, added_some=False)
        sys.exit(1)

    from quotebot.indexing import progress_lines
    from quotebot.library import Library
    from quotebot.models import Document
    from quotebot.store import IndexFolder

    limits = _limits(max_documents, max_document_mb, max_library_mb)
    library = Library(to or ".", limits)
    if search_url is not None:
        from quotebot.xapian_backend import add_to_shards, check_writable

        check_writable(search_url)  # before any fetching
    else:
        _check_library_folder(library)
        IndexFolder(library.index_dir).check_writable()  # before any fetching
    steps = _SlowSteps()
    found: list[tuple[str, Document]] = []
    try:
        for source in readable:
            label = _source_label(source)
            steps.step(f"reading {label}")
            skipped: list[Any] = []
            try:
                # The library's cap holds while reading: a huge file stops at it.
                found += [(label, doc) for doc in load_source(
                    source, skipped=skipped, max_bytes=limits.max_document_bytes)]
            except QuotebotError as exc:
                failed.append((label, exc))
            failed += [(label, exc) for exc in skipped]
        if new_id is not None and len(found) > 1:
            raise click.UsageError(f"--id names one document, and {sources[0]} holds "
                                   f"{len(found)}.")
        if new_id is not None and found:
            found = [(found[0][0], replace(found[0][1], id=new_id))]
        if found:
            steps.step(f"indexing {counted(len(found), 'document')}")
        if search_url is not None:
            result = add_to_shards(search_url, [doc for _, doc in found])
            where = f"--search-url {search_url}"
        else:
            where = f"--corpus {_shell_word(str(to))}"
            indexing, embedding = progress_lines(to)
            try:
                result = library.add([doc for _, doc in found], semantic=semantic,
                                     progress=indexing if found else None,
                                     embedding=embedding)
            finally:
                indexing.close()
                embedding.close()
    finally:
        steps.close()
    source_of = {id(doc): label for label, doc in found}
    failed += [(source_of.get(id(doc), doc.title), refusal) for doc, refusal in result.refused]
    for added in result.added:
        if as_json:
            click.echo(dumps(added.to_json()))
        else:
            # The same link, or a file of the same name, again: its new version replaced it.
            verb = "Updated" if added.replaced else "Added"
            again = " (its earlier version is replaced)" if added.replaced else ""
            origin = f" from {added.url}" if added.url else ""
            click.echo(f"{verb} {added.doc}: {added.title} "
                       f"({counted(added.sentences, 'sentence')}{origin}){again}")
            if added.kept_little:
                click.echo(f"Note: only {added.kept_words:,} of the page's {added.page_words:,} "
                           "words were kept as its article; check the text with `quotebot show "
                           f"{added.doc} {where}`, and if it is not the whole "
                           "article, save the article's text as a .txt file and add that.",
                           err=True)
    if result.added and not as_json:
        click.echo(f"Ask about {'it' if len(result.added) == 1 else 'them'}: quotebot ask "
                   f"\"…\" {where}")
    if failed:
        _report_failed(failed, as_json, added_some=bool(result.added))
        sys.exit(1)


def _report_failed(failed: list[tuple[str, QuotebotError]], as_json: bool, *,
                   added_some: bool) -> None:
    """Say which sources `add` could not add, and why."""
    for label, error in failed:
        if as_json:
            click.echo(dumps({"source": label, **error.to_json()}))
        else:
            click.echo(f"Error: {_with_source(label, error.message)}", err=True)
    if not as_json:
        click.echo(f"{counted(len(failed), 'source')} could not be "
                   f"added{'; the others were' if added_some else ''}.", err=True)


def _with_source(label: str, message: str) -> str:
    """``message`` led by the source it is about, unless it names it already (a file's
    errors do: "'x.pdf' could not be read as a PDF", not "x.pdf: 'x.pdf' could not …")."""
    import re

    source = Path(label).expanduser()
    # Messages quote a file's path as Python writes a string ('x.pdf', or "it's.pdf").
    named = (Path(quoted) for pair in re.findall(r"'([^']+)'|\"([^\"]+)\"", message)
             for quoted in pair if quoted)
    if label and any(path == source or source in path.parents for path in named):
        return message
    return f"{label}: {message}"


def _check_library_folder(library: Any) -> None:
    from quotebot.library import LibraryError

    root = library.root
    if root.exists() and not root.is_dir():
        raise LibraryError(f"{str(root)!r} is a file; give --to a folder (it is created if "
                           "missing).", code="library_unwritable")


@main.command()
@click.argument("docs", nargs=-1, required=True, metavar="DOC...")
@click.option("--from", "from_", required=True, metavar="DIR",
              type=click.Path(path_type=str), help="The library folder.")
@semantic_option
@json_option
@handle_errors
def forget(docs: tuple[str, ...], from_: str, semantic: str, as_json: bool) -> None:
    """Remove documents that `quotebot add` put in a library, and update its index. DOC is a
    document's id (from `quotebot docs --corpus DIR`) or its file name. Files quotebot did
    not add are left alone (an error says so).

    \b
    Examples:
        quotebot forget kelsey-bay-sea-wall --from ~/articles
        quotebot forget kelsey --from ~/articles              # the start of an id will do
        quotebot forget kelsey-bay-sea-wall.txt --from ~/articles --json
    """
    from quotebot.library import Library
    from quotebot.models import document_json

    library = Library(from_)
    _check_library_folder(library)
    if not library.exists():
        raise library._unknown()
    known = library.documents()
    ids = [library_doc_id(known, name) for name in docs]
    gone = library.remove(ids, semantic=semantic)
    for info in gone:
        if as_json:
            click.echo(dumps(document_json(info.id, info.title, info.url, removed=True)))
        else:
            click.echo(f"Removed {info.id}: {info.title}")


def library_doc_id(known: Any, name: str) -> str:
    """The id of the document ``name`` stands for (its id, its file name, or the start of
    its id when no other id starts so)."""
    from pathlib import Path

    from quotebot.frontend import id_by_prefix

    for info in known:
        if info.id == name:
            return str(info.id)
    for info in known:
        if info.path and Path(info.path).name == Path(name).name:
            return str(info.id)
    # the library's own error lists the documents
    return id_by_prefix([str(info.id) for info in known], name) or name


# -- index -----------------------------------------------------------------------------------


@main.command("index")
@corpus_option
@click.option("--out", "out", type=click.Path(path_type=str), default=None,
              help="Where to save the index (default: the cache the other commands read).")
@click.option("--add", "add", multiple=True, type=click.Path(path_type=str),
              help="Add (or replace) a document in an existing index, without re-reading the rest.")
@click.option("--remove", "remove", multiple=True, metavar="DOC",
              help="Remove a document (by id) from an existing index.")
@click.option("--shards", "shards", type=click.IntRange(1, 1024), default=None, metavar="N",
              help="Write N Xapian shards OUT/shard-0 … OUT/shard-(N-1) for xapian-tcpsrv "
                   "instead of a saved index (needs --out and the xapian extra).")
@click.option("--jobs", "jobs", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Processes that split and analyse the documents while building (default: "
                   "one per core; one for a corpus under 4 million characters). Example: "
                   "--jobs 1 leaves the other cores to a server answering meanwhile.")
@semantic_option
@json_option
@handle_errors
def index_command(corpus: str | None, out: str | None, add: tuple[str, ...],
                  remove: tuple[str, ...], shards: int | None, jobs: int | None,
                  semantic: str, as_json: bool) -> None:
    """Build and save the sentence index of a corpus (or update a saved one).

    \b
    Examples:
        quotebot index
        quotebot index --corpus ~/articles --out ~/articles.idx
        quotebot index --corpus ~/archive --out ~/archive.idx --jobs 2
        quotebot index --out ~/articles.idx --add new-story.txt --remove old-story
        quotebot ask "who resigned?" --index ~/articles.idx
        quotebot index --corpus ~/articles --out ~/shards --shards 2
        quotebot index --corpus ~/articles --out ~/shards --shards 2 --semantic on

    With --shards, --semantic on also stores every sentence's vectors in the shards, so
    that answering from them reranks by meaning (auto and off leave them out: embedding
    is the slowest part of a build).
    """
    from quotebot.indexing import run_index, run_shards

    if jobs is not None and (shards is not None or add or remove):
        raise click.UsageError("--jobs applies to building a whole index: give it without "
                               "--shards, --add or --remove.")
    if shards is not None:
        if out is None or add or remove:
            raise click.UsageError("--shards writes new shards into --out DIR: give --out, "
                                   "and no --add or --remove.")
        summary = run_shards(corpus=corpus, out=out, shards=shards, semantic=semantic)
        click.echo(dumps(summary) if as_json else summary["message"])
        return
    summary = run_index(corpus=corpus, out=out, add=add, remove=remove, semantic=semantic,
                        jobs=jobs)
    click.echo(dumps(summary) if as_json else summary["message"])


# -- eval / serve / telegram live in their own modules --------------------------------------


def _register_optional_commands() -> None:
    from quotebot.eval_command import eval_command

    main.add_command(eval_command, "eval")
    try:
        from quotebot.bot.commands import serve_command, telegram_command
    except ImportError:  # pragma: no cover - the bot package ships with quotebot
        return
    main.add_command(serve_command, "serve")
    main.add_command(telegram_command, "telegram")


_register_optional_commands()
