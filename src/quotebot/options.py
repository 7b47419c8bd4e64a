"""The command-line options several commands share (here so that every command module can
use them without importing the CLI itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

corpus_option = click.option(
    "--corpus", "corpus", envvar="QUOTEBOT_CORPUS", type=click.Path(path_type=str),
    default=None, show_envvar=True,
    help="A .txt/.md article or a folder of them (default: the shipped article).",
)
index_option = click.option(
    "--index", "index_dir", envvar="QUOTEBOT_INDEX", type=click.Path(path_type=str),
    default=None, show_envvar=True,
    help="A saved index folder (from `quotebot index --out`). Alone, it needs no corpus.",
)
semantic_option = click.option(
    "--semantic", "semantic", envvar="QUOTEBOT_SEMANTIC", show_envvar=True, default="auto",
    show_default=True, type=click.Choice(["auto", "on", "off"], case_sensitive=False),
    help="Rerank by meaning with the bundled sentence model: auto (on up to 50,000 "
         "sentences), on, or off (words only, fastest).",
)
search_url_option = click.option(
    "--search-url", "search_url", envvar="QUOTEBOT_SEARCH_URL", show_envvar=True, default=None,
    metavar="URL",
    help="Answer from Xapian shard servers alone, xapian://HOST:PORT,HOST:PORT (shard-0 "
         "first; built by `quotebot index --shards N`): the corpus and --index are not "
         "read, and reranking by meaning is off.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
k_option = click.option("-k", "k", type=click.IntRange(1, 50), default=3, show_default=True,
                        help="How many quotes to give.")
color_option = click.option("--color/--no-color", default=None,
                            help="Highlight matched words (default: when writing to a terminal).")


def answering_options(func: F) -> F:
    """The options every answering command takes: corpus, index, --semantic, -k, --json,
    --color."""
    for option in reversed((corpus_option, index_option, semantic_option, k_option,
                            json_option, color_option)):
        func = option(func)
    return func


