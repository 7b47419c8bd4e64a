"""The options `quotebot serve` and `quotebot telegram` share, and the command class that
keeps secrets out of their usage errors.

Only click is imported here, as in commands.py.
"""

from __future__ import annotations

from typing import Any

import click

_SECRET_FLAGS = ("--token", "--webhook-secret", "--api-key")
_SECRET_VARIABLES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "QUOTEBOT_API_KEY")


class SecretSafeCommand(click.Command):
    """A command whose usage errors never repeat a secret: the token, webhook secret and API
    key from the environment or the flags, or anything given that looks like a bot token
    (``quotebot telegram 123456:ABC…`` reports the extra argument masked)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        given_args = list(args)  # parsing consumes the list
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            import itertools
            import os
            import re

            from .config import Redactor

            args = given_args
            given = [os.environ.get(name) for name in _SECRET_VARIABLES]
            given += [value for flag, value in itertools.pairwise(args) if flag in _SECRET_FLAGS]
            given += [arg.split("=", 1)[1] for arg in args
                      if arg.startswith(tuple(f"{f}=" for f in _SECRET_FLAGS))]
            given += [arg for arg in args if re.search(r"[0-9]+:[A-Za-z0-9_-]{8,}", arg)]
            raise click.UsageError(Redactor(*given)(exc.format_message()), exc.ctx) from None


token_option = click.option(
    "--token", envvar="TELEGRAM_BOT_TOKEN", show_envvar=True, default=None,
    help="The bot token from @BotFather. Prefer the environment variable: flags show in `ps`.")
api_base_option = click.option(
    "--api-base-url", envvar="TELEGRAM_API_BASE_URL", show_envvar=True,
    default="https://api.telegram.org/bot", show_default=True,
    help="Bot API base URL; the token is appended (a local server on port P: "
         "http://127.0.0.1:P/bot).")
redis_option = click.option(
    "--redis-url", envvar="QUOTEBOT_REDIS_URL", show_envvar=True, default=None,
    help="Keep conversations in Redis (shared by replicas), e.g. redis://localhost:6379/0.")
chat_limit_option = click.option(
    "--rate-limit-chat", envvar="QUOTEBOT_RATE_LIMIT_CHAT", show_envvar=True, default=30.0,
    type=click.FloatRange(min=0), show_default=True,
    help="Questions per minute one Telegram chat may ask (0: no limit).")
send_rate_option = click.option(
    "--telegram-send-rate", envvar="QUOTEBOT_TELEGRAM_SEND_RATE", show_envvar=True, default=30.0,
    type=click.FloatRange(min=0), show_default=True,
    help="Messages per second the bot sends at most, over all chats (Telegram allows 30; "
         "0: no limit).")

data_dir_option = click.option(
    "--data-dir", envvar="QUOTEBOT_DATA_DIR", show_envvar=True, default=None, metavar="DIR",
    type=click.Path(file_okay=False, path_type=str),
    help="Where libraries live, one folder each; replicas that share it share them "
         "(default: $XDG_DATA_HOME/quotebot/libraries).")
document_mb_option = click.option(
    "--max-document-mb", envvar="QUOTEBOT_MAX_DOCUMENT_MB", show_envvar=True, default=10.0,
    type=click.FloatRange(min=0.01), show_default=True,
    help="Megabytes of a page, file or upload that may be added (and of its text).")
chat_docs_option = click.option(
    "--chat-max-docs", envvar="QUOTEBOT_CHAT_MAX_DOCS", show_envvar=True, default=20,
    type=click.IntRange(min=0), show_default=True,
    help="Articles each Telegram chat may add to its own library (0: chats cannot add).")
chat_mb_option = click.option(
    "--chat-max-mb", envvar="QUOTEBOT_CHAT_MAX_MB", show_envvar=True, default=5.0,
    type=click.FloatRange(min=0), show_default=True,
    help="Megabytes of text each Telegram chat's library may hold (0: no limit).")
file_url_option = click.option(
    "--api-base-file-url", envvar="TELEGRAM_API_BASE_FILE_URL", show_envvar=True, default=None,
    help="Where the Bot API serves files sent to the bot; the token is appended (default: "
         "TELEGRAM_API_BASE_URL with /file/bot for its /bot).")


def megabytes(value: float) -> int:
    """Bytes in ``value`` megabytes, as the --*-mb options give them."""
    return int(value * 1024 * 1024)
