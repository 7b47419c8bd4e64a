"""What every front end shares: opening the engine, example questions, and turning
quotebot's errors into one clear message (CLI) or one error shape (JSON).

The CLI, ``quotebot eval``, the HTTP server and the Telegram bot import this module;
it imports none of them.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from quotebot.errors import QuotebotError

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

    return wrapper  # type: ignore[return-value]


def open_engine(corpus: str | None, index_dir: str | None, semantic: str = "off"
                ) -> QuoteEngine:
    """The engine a command works with (``semantic="off"`` for those that only read)."""
    from quotebot.engine import QuoteEngine

    return QuoteEngine.open(corpus, index_dir=index_dir, semantic=semantic)
