"""The `quotebot eval` command: a question file, a conversation set, or articles held out
one at a time (with weights fitted on the others).

Measuring lives in evaluate.py and conversation_eval.py, fitting in fitting.py and
conversation_fit.py; this module calls them, and none of them calls back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from quotebot.conversation_eval import (
    default_corpus,
    format_conversation_report,
    plain_bm25,
    read_conversations,
    report,
    run_conversations,
)
from quotebot.errors import QuotebotError
from quotebot.evaluate import (
    EvalFileError,
    evaluate,
    expected_text_found,
    format_held_out,
    format_report,
    load_cases,
    wrong_corpus_warning,
)
from quotebot.options import search_url_option, semantic_option


def evaluate_conversation_set(path: Path, corpus: str | None, index_dir: str | None,
                              semantic: str, *, k: int = 3, held_out: bool = False,
                              moving: bool = False) -> dict[str, Any]:
    """Open the corpus of the set at ``path`` (``corpus/`` beside it unless given), ask
    every conversation and report, held out when asked; ``moving``: each conversation
    asked after the previous one's first question (see
    :func:`quotebot.conversation_eval.lead_in`)."""
    from quotebot.frontend import open_engine

    cases = read_conversations(path)
    if corpus is None and index_dir is None:
        corpus = str(default_corpus(path))
    engine = open_engine(corpus, index_dir, semantic)
    known = {d.id for d in engine.documents}
    missing = sorted({c.doc for c in cases} - known)
    if missing:
        raise EvalFileError(f"The corpus has no passage {missing[0]!r} that "
                            f"{str(path)!r} asks about; give its passages with --corpus.")
    bm25 = plain_bm25(engine, cases)
    if not held_out:
        return report(run_conversations(engine, cases, k=k, moving=moving), bm25)
    from quotebot.conversation_fit import held_out_conversations

    if len(cases) < 2:
        raise EvalFileError("--held-out needs at least two conversations (fit on the others, "
                            "score on each).")
    results, fitted = held_out_conversations(engine, cases, k=k, moving=moving)
    return report(results, bm25, held_out=True, fitted=fitted)


def run_held_out(paths: Sequence[Path], *, k: int = 3, progress: bool = False
                 ) -> dict[str, Any]:
    """Leave-one-article-out over the articles in ``paths`` (see
    :func:`quotebot.fitting.held_out`)."""
    from quotebot.fitting import examine, find_articles, held_out, open_article
    from quotebot.tuning import default_tuning

    articles = find_articles(paths)
    if len(articles) < 2:
        raise EvalFileError("--held-out needs at least two articles with their questions "
                            "(fit on the others, score on each).")
    data = []
    for article in articles:
        if progress:
            sys.stderr.write(f"examining {article.name}\n")
        engine = open_article(article)
        examined = examine(article, engine)
        if not expected_text_found(engine, examined.cases):
            click.echo(wrong_corpus_warning(article.questions), err=True)
        data.append(examined)

    def say(message: str) -> None:
        if progress:
            sys.stderr.write(message + "\n")

    return held_out(data, default_tuning(), k=k, progress=say)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--held-out", "held_out_mode", is_flag=True,
              help="Leave-one-article-out: PATHS are folders of articles with their "
                   "questions (<name>.txt beside questions.json, or folders of such "
                   "folders); each article is scored with numbers fitted on the others.")
@click.option("--moving", is_flag=True,
              help="Conversation sets: ask each conversation right after the previous "
                   "one's first question, as one chat that moves from passage to passage "
                   "(its first turn then scores leaving the last passage).")
@click.option("--corpus", "corpus", envvar="QUOTEBOT_CORPUS", type=click.Path(path_type=str),
              default=None, show_envvar=True, help="The articles the questions are about.")
@click.option("--index", "index_dir", envvar="QUOTEBOT_INDEX", type=click.Path(path_type=str),
              default=None, help="A saved index folder to use instead of a corpus.")
@click.option("-k", "k", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Quotes per answer (top-3 needs 3).")
@semantic_option
@search_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def eval_command(paths: tuple[Path, ...], held_out_mode: bool, moving: bool,
                 corpus: str | None,
                 index_dir: str | None, k: int, semantic: str, search_url: str | None,
                 as_json: bool) -> None:
    """Score quotebot on a question file: quote hit rates, short answers, abstention,
    follow-ups.

    PATHS is one question file: a conversation set (a "conversations" list of turns,
    CoQA's shape, with its passages in corpus/ beside it), quotebot's own (without one,
    the shipped article's, index/met-police-nypd-visit.qa.json) or SQuAD v1.1 / v2.0
    JSON, whose answers are checked inside the quotes; SQuAD 2.0's unanswerable
    questions count as right when declined. With --held-out, PATHS are articles with
    their questions, each scored with weights and thresholds fitted on the others.

    \b
    Examples:
        quotebot eval
        quotebot eval questions.json
        quotebot eval squad-dev.json --corpus article.txt --json
        quotebot eval --held-out squad/force squad/sky squad/methodist squad/super-bowl-50
        quotebot eval conversations.json
        quotebot eval conversations.json --held-out --moving
        quotebot eval --search-url xapian://127.0.0.1:7001,127.0.0.1:7002
    """
    from quotebot.frontend import fail, open_engine

    try:
        if search_url and (held_out_mode or (len(paths) == 1
                                             and _is_conversation_file(paths[0]))):
            raise EvalFileError("--search-url scores a question file (quotebot's or SQuAD's) "
                                "over shards; conversation sets and --held-out run on the "
                                "embedded index.")
        if len(paths) == 1 and _is_conversation_file(paths[0]):
            report = evaluate_conversation_set(paths[0], corpus, index_dir, semantic, k=k,
                                               held_out=held_out_mode, moving=moving)
            click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json
                       else format_conversation_report(report))
            return
        if held_out_mode:
            if semantic == "off":
                raise EvalFileError("--held-out fits the weights of reranking by meaning; "
                                    "run it with --semantic on (or auto).")
            report = run_held_out(list(paths), k=k, progress=sys.stderr.isatty())
        else:
            if not paths:
                paths = (_default_questions(corpus, index_dir),)
            if len(paths) != 1:
                raise EvalFileError(f"Give one question file (got {len(paths)}); "
                                    f"--held-out takes several articles.")
            cases, conversations, _ = load_cases(paths[0])
            engine = open_engine(corpus, index_dir, semantic, search_url)
            if not expected_text_found(engine, cases):
                click.echo(wrong_corpus_warning(paths[0]), err=True)
            report = evaluate(engine, cases, conversations, k=k,
                              progress=sys.stderr.isatty() and len(cases) > 20)
    except QuotebotError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    elif held_out_mode:
        click.echo(format_held_out(report))
    else:
        click.echo(format_report(report))


def _is_conversation_file(path: Path) -> bool:
    """Whether ``path`` is a conversation set (a JSON file with a "conversations" list)."""
    if not path.is_file():
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")
        return '"conversations"' in head and isinstance(
            json.loads(head).get("conversations"), list)
    except (OSError, ValueError, AttributeError):
        return False


def _default_questions(corpus: str | None, index_dir: str | None) -> Path:
    """The shipped article's question file, when the shipped article is what is scored."""
    from quotebot.corpus import default_corpus_path, resolve_corpus_path
    from quotebot.index import DEFAULT_QA

    if index_dir is None and resolve_corpus_path(corpus).resolve() == (
            default_corpus_path().resolve()):
        return Path(DEFAULT_QA)
    raise EvalFileError("Give the question file to score your articles with (a quotebot "
                        "question file or SQuAD JSON); without one, quotebot eval scores the "
                        "shipped article with its own questions.")
