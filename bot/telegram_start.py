"""Starting the Telegram bot: settings checked before use, the token checked with the Bot API,
commands and the webhook registered, polling run until a signal; bounded in time, and any
failure one sentence that never holds the token.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
)
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application

from quotebot.errors import QuotebotError

from .config import ALLOWED_UPDATES, BotConfig, redact

log = logging.getLogger(__name__)
#: Seconds the whole start (token check, commands, webhook) may take.
START_TIMEOUT = 30.0
COMMANDS = (
    ("start", "Greeting and example questions"),
    ("help", "How to ask"),
    ("more", "The next passages of the last answer"),
    ("sources", "The documents I read"),
)
#: Commands of a bot whose chats may add their own articles.
LIBRARY_COMMANDS = (
    ("library", "The articles you added"),
    ("forget", "Remove one of them: /forget N"),
)
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettingError(QuotebotError):
    """A Telegram setting that cannot work (no token, a malformed token or URL)."""

    code = "invalid_setting"


class TelegramStartError(QuotebotError):
    """The bot could not start: the Bot API was unreachable, slow, or refused the token."""

    code = "telegram_unavailable"


class StartInterrupted(TelegramStartError):
    code = "interrupted"


def check_token(token: str | None) -> str:
    """The token without surrounding blanks; TelegramSettingError when it cannot be one.

    The message never repeats the token.
    """
    token = (token or "").strip()
    if not token:
        raise TelegramSettingError("No bot token: get one from @BotFather and set "
                                   "TELEGRAM_BOT_TOKEN (or pass --token).")
    if not _TOKEN.fullmatch(token):
        raise TelegramSettingError("TELEGRAM_BOT_TOKEN is not a bot token: a token is digits, "
                                   "a colon, then letters, digits, - and _. Copy it again from "
                                   "@BotFather.")
    return token


def check_api_base_url(url: str) -> None:
    """TelegramSettingError unless ``url`` is an http(s) URL the token can be appended to."""
    parts = urlsplit(url.replace("{token}", "TOKEN"))
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        port_ok = True
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise TelegramSettingError(
            "TELEGRAM_API_BASE_URL is not an http(s) URL; use https://api.telegram.org/bot or "
            "your Bot API server's address ending in /bot, e.g. http://127.0.0.1:8081/bot.")
    if "{token}" not in url and not url.endswith("/bot"):
        raise TelegramSettingError(
            "TELEGRAM_API_BASE_URL must end in /bot, since the token is appended to it: "
            "https://api.telegram.org/bot, or http://HOST:PORT/bot for your own Bot API server.")


def check_webhook_secret(secret: str) -> None:
    if not _WEBHOOK_SECRET.fullmatch(secret):
        raise TelegramSettingError("TELEGRAM_WEBHOOK_SECRET must be 1-256 letters, digits, "
                                   "- or _ (Telegram's rule); make one with: python3 -c "
                                   "'import secrets; print(secrets.token_urlsafe(32))'.")


def api_location(url: str) -> str:
    """Scheme, host and port of the Bot API URL: what a message may show of it."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


def start_error(exc: BaseException, base_url: str, doing: str, hint: str = ""
                ) -> TelegramStartError:
    """One sentence for what went wrong while talking to the Bot API, without secrets."""
    where = api_location(base_url)
    if isinstance(exc, InvalidToken):
        reason = (f"the Bot API at {where} rejected the token; copy TELEGRAM_BOT_TOKEN again "
                  f"from @BotFather and check TELEGRAM_API_BASE_URL")
    elif isinstance(exc, TimedOut | TimeoutError):
        reason = (f"the Bot API at {where} did not answer in time; check the network and "
                  f"TELEGRAM_API_BASE_URL")
    elif isinstance(exc, NetworkError):
        reason = (f"could not reach the Bot API at {where} ({short_error(exc)}); check the network "
                  f"and TELEGRAM_API_BASE_URL")
    elif isinstance(exc, TelegramError):
        reason = f"the Bot API at {where} refused: {short_error(exc)}"
    else:
        reason = f"{type(exc).__name__} ({short_error(exc)})"
    return TelegramStartError(f"Could not {doing}: {reason}{hint}.")


def short_error(exc: BaseException) -> str:
    text = " ".join(redact(str(exc)).split()).rstrip(".")
    return text[:160] + ("…" if len(text) > 160 else "") or type(exc).__name__


async def start_telegram(application: Application[Any, Any, Any, Any, Any, Any],
                         config: BotConfig, *, polling: bool = False, hint: str = "") -> None:
    """Initialize (the token is checked with getMe), register the commands, the webhook
    (``config.webhook_url``) or start polling, and start handling updates; within
    START_TIMEOUT seconds, or TelegramStartError."""
    try:
        async with asyncio.timeout(START_TIMEOUT):
            await application.initialize()
            if config.primary:  # one process of several registers for all
                await application.bot.set_my_commands(bot_commands(config))
            if config.webhook_url and not polling and config.primary:
                await application.bot.set_webhook(config.webhook_url,
                                                  secret_token=config.webhook_secret,
                                                  allowed_updates=allowed_updates())
                log.info("registered the Telegram webhook")
            if polling and application.updater is not None:
                await application.updater.start_polling(allowed_updates=allowed_updates())
            await application.start()
    except BaseException as exc:
        await _quietly(application.shutdown())
        if isinstance(exc, Exception):
            _log_failure(exc)
            raise start_error(exc, config.api_base_url, "start the Telegram bot", hint) from None
        raise


async def _quietly(step: Awaitable[object]) -> None:
    try:
        await asyncio.wait_for(step, 5)
    except Exception as exc:
        log.debug("ignoring an error while stopping the Telegram bot: %s", exc)


async def call_bot_api(config: BotConfig, doing: str,
                       action: Callable[[Bot], Awaitable[object]] | None = None) -> None:
    """Check the token with the Bot API, then run ``action`` with the bot; bounded in
    time, and any failure is TelegramStartError ("Could not {doing}: …")."""
    assert config.token
    try:
        async with asyncio.timeout(START_TIMEOUT):
            async with Bot(config.token, base_url=config.api_base_url) as bot:
                if action is not None:
                    await action(bot)
    except Exception as exc:
        _log_failure(exc)
        raise start_error(exc, config.api_base_url, doing) from None


def _log_failure(exc: Exception) -> None:
    """A failed Bot API call at DEBUG: in one line when it is one of Telegram's or the
    network's errors (the sentence shown says it all), with its traceback otherwise."""
    expected = isinstance(exc, TelegramError | TimeoutError)
    log.debug("the Bot API call failed: %s: %s", type(exc).__name__, exc,
              exc_info=None if expected else exc)


async def register_webhook(bot: Bot, url: str, secret: str, config: BotConfig | None = None
                           ) -> None:
    await bot.set_webhook(url, secret_token=secret, allowed_updates=allowed_updates())
    await bot.set_my_commands(bot_commands(config))


def bot_commands(config: BotConfig | None) -> list[BotCommand]:
    """The commands shown in Telegram's menu (with /library and /forget when chats may add
    articles)."""
    extra = LIBRARY_COMMANDS if config is not None and config.chat_libraries_enabled else ()
    return [BotCommand(c, d) for c, d in (*COMMANDS, *extra)]


async def run_polling(application: Application[Any, Any, Any, Any, Any, Any],
                      config: BotConfig, announce: Callable[[], None]) -> None:
    """Start polling, call ``announce``, and run until SIGINT or SIGTERM. A signal before
    the bot has started ends the start with StartInterrupted."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    stop = asyncio.Event()
    started = False

    def on_signal() -> None:
        if started:
            stop.set()
        elif main is not None:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await start_telegram(application, config, polling=True)
    except asyncio.CancelledError:
        raise StartInterrupted("Stopped before the Telegram bot started.") from None
    started = True
    announce()
    try:
        await stop.wait()
    finally:
        if application.updater is not None:
            await _quietly(application.updater.stop())
        await _quietly(application.stop())
        await _quietly(application.shutdown())


def allowed_updates() -> list[str]:
    return list(ALLOWED_UPDATES)
