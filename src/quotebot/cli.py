"""The ``quotebot`` command: ask, repl, show, docs, index, eval, serve, telegram.

Heavy imports (the engine, the bot stack) happen inside the commands that need
them, so ``quotebot --help`` and ``quotebot ask`` start quickly.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from quotebot.errors import QuotebotError
from quotebot.frontend import EXAMPLE_QUESTIONS, dumps, handle_errors, open_engine
from quotebot.options import (
    answering_options,
    corpus_option,
    index_option,
    json_option,
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


@click.group(invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="quotebot")
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
    """
    from quotebot.logs import configure_logging

    configure_logging(log_level, log_format)
    if ctx.invoked_subcommand is None:
        ctx.invoke(repl)


# -- ask ---------------------------------------------------------------------------------------


@main.command()
@click.argument("question")
@answering_options
@handle_errors
def ask(question: str, corpus: str | None, index_dir: str | None, semantic: str, k: int,
        as_json: bool, color: bool | None) -> None:
    """Answer one QUESTION with quotes from the corpus.

    \b
    Examples:
        quotebot ask "how many stabbings?"
        quotebot ask "who went to New York?" --json
        quotebot ask "what did the mayor announce?" --corpus ~/articles -k 5
    """
    from quotebot.question import validate_question
    from quotebot.render import render_text

    validate_question(question)  # fail fast, before any index is opened
    engine = open_engine(corpus, index_dir, semantic)
    answer = engine.answer_question(question, k)
    if as_json:
        click.echo(dumps(answer.to_json()))
    else:
        use_color = _use_color(color)
        # click strips ANSI codes when stdout is not a terminal unless told otherwise.
        click.echo(render_text(answer, color=use_color), color=use_color)


# -- repl -----------------------------------------------------------------------------------

REPL_HELP = """\
Type a question about the article and press Enter.
  more            the next passages for the last question
  what about X?   the last question, about X instead
  :sources        the documents being searched
  :new            forget the conversation (follow-ups start afresh)
  :help           this help
  :quit           leave (or Ctrl-D)
Examples: """ + " | ".join(EXAMPLE_QUESTIONS)


@main.command()
@answering_options
@handle_errors
def repl(corpus: str | None, index_dir: str | None, semantic: str, k: int, as_json: bool,
         color: bool | None) -> None:
    """Ask questions one after another; follow-ups ("more", "what did she say?") work.

    On a terminal it has history and line editing. With piped input it reads one
    question per line; with --json it prints one JSON object per line (JSON Lines).

    \b
    Examples:
        quotebot repl
        printf 'how many stabbings?\\nmore\\n' | quotebot repl --json
    """
    from quotebot.session import Session

    engine = open_engine(corpus, index_dir, semantic)
    session = Session(engine)
    interactive = sys.stdin.isatty() and not as_json
    use_color = _use_color(color)
    if interactive:
        _interactive_loop(session, k, use_color)
    else:
        for line in sys.stdin:
            if not _repl_turn(session, line.strip(), k, as_json, use_color):
                break


def _interactive_loop(session: Any, k: int, color: bool) -> None:
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
            line = prompt.prompt("quotebot> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        if not _repl_turn(session, line.strip(), k, False, color):
            return


def _repl_turn(session: Any, line: str, k: int, as_json: bool, color: bool) -> bool:
    """Handle one line; False means quit."""
    from quotebot.render import render_text
    from quotebot.session import SessionState

    if not line:
        return True
    command = line.lower()
    if command in (":quit", ":q", ":exit", "quit", "exit"):
        return False
    if command in (":help", ":h", "help", "?"):
        click.echo(dumps({"help": REPL_HELP}) if as_json else REPL_HELP)
        return True
    if command in (":sources", ":docs"):
        _print_docs(session.engine, as_json)
        return True
    if command in (":new", ":reset"):
        session.state = SessionState()
        click.echo(dumps({"reset": True}) if as_json else "(new conversation)")
        return True
    try:
        answer: Answer = session.ask(line, k)
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


# -- show / docs ---------------------------------------------------------------------------


@main.command()
@click.argument("doc")
@corpus_option
@index_option
@json_option
@handle_errors
def show(doc: str, corpus: str | None, index_dir: str | None, as_json: bool) -> None:
    """Print document DOC exactly as indexed, so quote offsets can be checked.

    \b
    Examples:
        quotebot show met-police-nypd-visit
        quotebot show met-police-nypd-visit --json | jq -r '.text[2208:2351]'
    """
    document = open_engine(corpus, index_dir).document(doc)
    if as_json:
        click.echo(dumps({"doc": document.id, "title": document.title, "text": document.text}))
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


# -- index -----------------------------------------------------------------------------------


@main.command("index")
@corpus_option
@click.option("--out", "out", type=click.Path(path_type=str), default=None,
              help="Where to save the index (default: the cache the other commands read).")
@click.option("--add", "add", multiple=True, type=click.Path(path_type=str),
              help="Add (or replace) a document in an existing index, without re-reading the rest.")
@click.option("--remove", "remove", multiple=True, metavar="DOC",
              help="Remove a document (by id) from an existing index.")
@semantic_option
@json_option
@handle_errors
def index_command(corpus: str | None, out: str | None, add: tuple[str, ...],
                  remove: tuple[str, ...], semantic: str, as_json: bool) -> None:
    """Build and save the sentence index of a corpus (or update a saved one).

    \b
    Examples:
        quotebot index
        quotebot index --corpus ~/articles --out ~/articles.idx
        quotebot index --out ~/articles.idx --add new-story.txt --remove old-story
        quotebot ask "who resigned?" --index ~/articles.idx
    """
    from quotebot.indexing import run_index

    summary = run_index(corpus=corpus, out=out, add=add, remove=remove, semantic=semantic,
                        show_progress=sys.stderr.isatty() and not as_json)
    click.echo(dumps(summary) if as_json else summary["message"])


# -- eval / serve / telegram live in their own modules --------------------------------------


def _register_optional_commands() -> None:
    from quotebot.evaluate import eval_command

    main.add_command(eval_command, "eval")
    try:
        from quotebot.bot.commands import serve_command, telegram_command
    except ImportError:  # pragma: no cover - the bot package ships with quotebot
        return
    main.add_command(serve_command, "serve")
    main.add_command(telegram_command, "telegram")


_register_optional_commands()
