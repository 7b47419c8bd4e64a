"""`quotebot serve` and `quotebot telegram`.

Only click is imported here: aiohttp and python-telegram-bot load inside the
commands, so `quotebot ask` never pays for them.
"""

from __future__ import annotations

import dataclasses
import errno
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from quotebot.errors import QuotebotError
from quotebot.frontend import handle_errors
from quotebot.options import corpus_option, index_option, search_url_option, semantic_option

from .command_options import (
    SecretSafeCommand,
    api_base_option,
    chat_docs_option,
    chat_limit_option,
    chat_mb_option,
    data_dir_option,
    document_mb_option,
    file_url_option,
    megabytes,
    redis_option,
    send_rate_option,
    token_option,
)

if TYPE_CHECKING:
    from .config import BotConfig

#: Seconds a thread holds the interpreter lock before another that waits may take it.
SWITCH_INTERVAL = 0.0005


@click.command(cls=SecretSafeCommand)
@click.option("--host", envvar="QUOTEBOT_HOST", default="127.0.0.1", show_default=True,
              show_envvar=True, help="Address to listen on (0.0.0.0 to accept outside calls).")
@click.option("--port", envvar="QUOTEBOT_PORT", default=8080, show_default=True,
              show_envvar=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@corpus_option
@index_option
@search_url_option
@semantic_option
@token_option
@click.option("--webhook-secret", envvar="TELEGRAM_WEBHOOK_SECRET", show_envvar=True,
              default=None, help="Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; "
                                 "with --token it enables POST /telegram/webhook.")
@click.option("--webhook-url", envvar="TELEGRAM_WEBHOOK_URL", show_envvar=True, default=None,
              help="Public HTTPS URL of /telegram/webhook to register with Telegram on start.")
@api_base_option
@redis_option
@chat_limit_option
@send_rate_option
@click.option("--rate-limit-ip", envvar="QUOTEBOT_RATE_LIMIT_IP", show_envvar=True,
              default=600.0, type=click.FloatRange(min=0), show_default=True,
              help="HTTP requests per minute one client address may send (0: no limit).")
@click.option("--forwarded-allow-ips", envvar="QUOTEBOT_FORWARDED_ALLOW_IPS", show_envvar=True,
              default=None, metavar="ADDRESSES",
              help="Proxies (IP addresses or networks, comma-separated; * for any) whose "
                   "X-Forwarded-For names the client, e.g. 127.0.0.1,::1 for a proxy on this "
                   "host. Others' X-Forwarded-For is ignored. Default: none.")
@click.option("--session-memory-mb", envvar="QUOTEBOT_SESSION_MEMORY_MB", show_envvar=True,
              default=64, type=click.IntRange(min=1), show_default=True,
              help="Megabytes conversations may take in this process's memory (without Redis, "
                   "or while it is away); the least recently used go first.")
@click.option("--api-key", envvar="QUOTEBOT_API_KEY", show_envvar=True, default=None,
              help="Enables /v1/libraries and \"library\" in /v1/ask for clients that send "
                   "'Authorization: Bearer KEY' (at least 16 characters). Prefer the "
                   "environment variable: flags show in `ps`.")
@data_dir_option
@click.option("--web-uploads/--no-web-uploads", envvar="QUOTEBOT_WEB_UPLOADS", show_envvar=True,
              default=False, show_default=True,
              help="Let the web page add links: each page session gets a small library of its "
                   "own (see --web-max-docs).")
@document_mb_option
@click.option("--library-max-docs", envvar="QUOTEBOT_LIBRARY_MAX_DOCS", show_envvar=True,
              default=500, type=click.IntRange(min=0), show_default=True,
              help="Documents each library of the HTTP API may hold (0: no limit).")
@click.option("--library-max-mb", envvar="QUOTEBOT_LIBRARY_MAX_MB", show_envvar=True,
              default=100.0, type=click.FloatRange(min=0), show_default=True,
              help="Megabytes of text each library of the HTTP API may hold (0: no limit).")
@chat_docs_option
@chat_mb_option
@click.option("--web-max-docs", envvar="QUOTEBOT_WEB_MAX_DOCS", show_envvar=True, default=3,
              type=click.IntRange(min=0), show_default=True,
              help="Links each web page session may add (with --web-uploads).")
@click.option("--web-max-mb", envvar="QUOTEBOT_WEB_MAX_MB", show_envvar=True, default=1.0,
              type=click.FloatRange(min=0), show_default=True,
              help="Megabytes of text each web page session's library may hold.")
@click.option("--web-max-libraries", envvar="QUOTEBOT_WEB_MAX_LIBRARIES", show_envvar=True,
              default=1000, type=click.IntRange(min=1), show_default=True,
              help="Web page sessions that may hold added links at once (each session's go "
                   "when it expires).")
@click.option("--web-max-total-mb", envvar="QUOTEBOT_WEB_MAX_TOTAL_MB", show_envvar=True,
              default=1024.0, type=click.FloatRange(min=0), show_default=True,
              help="Megabytes on disk all web page sessions' libraries may take together "
                   "(text, index and vectors; 0: no limit).")
@file_url_option
@click.option("--workers", envvar="QUOTEBOT_WORKERS", show_envvar=True, default=1,
              type=click.IntRange(1, 64), show_default=True,
              help="Answering processes on the port (about one per core); with more than one, "
                   "conversations, rate limits and Telegram updates are shared through "
                   "--redis-url.")
@click.option("--answer-processes", envvar="QUOTEBOT_ANSWER_PROCESSES", show_envvar=True,
              default=1, type=click.IntRange(0, 64), show_default=True,
              help="Processes answering questions for each worker, apart from the one that "
                   "serves HTTP, so /healthz and the web page stay quick while answering is "
                   "busy (0: answer in a thread of the worker itself).")
@click.option("--answer-nice", envvar="QUOTEBOT_ANSWER_NICE", show_envvar=True,
              default=10, type=click.IntRange(0, 19), show_default=True,
              help="How much nicer (as in `nice`) than the worker its answering processes "
                   "run, so that the worker takes a core at once for /healthz and the web "
                   "page; 0 when other programs at normal priority share the host and "
                   "answering should keep its full share, e.g. --answer-nice 0.")
@handle_errors
def serve_command(host: str, port: int, corpus: str | None, index_dir: str | None,
                  search_url: str | None, semantic: str, token: str | None,
                  webhook_secret: str | None, webhook_url: str | None,
                  api_base_url: str, redis_url: str | None, rate_limit_chat: float,
                  telegram_send_rate: float, rate_limit_ip: float,
                  forwarded_allow_ips: str | None, session_memory_mb: int, api_key: str | None,
                  data_dir: str | None, web_uploads: bool, max_document_mb: float,
                  library_max_docs: int, library_max_mb: float, chat_max_docs: int,
                  chat_max_mb: float, web_max_docs: int, web_max_mb: float,
                  web_max_libraries: int, web_max_total_mb: float,
                  api_base_file_url: str | None, workers: int, answer_processes: int,
                  answer_nice: int) -> None:
    """Serve the JSON API, the web chat page and (optionally) the Telegram webhook.

    \b
    Endpoints: POST /v1/ask, GET /v1/docs, GET /v1/docs/{doc}, GET /healthz,
    GET /metrics, GET / (chat page), POST /telegram/webhook; with QUOTEBOT_API_KEY,
    POST/GET /v1/libraries/{name}/docs and DELETE /v1/libraries/{name}/docs/{doc}.

    \b
    Examples:
        quotebot serve
        curl -s localhost:8080/v1/ask -H 'Content-Type: application/json' \\
             -d '{"question": "how many stabbings?"}'
        quotebot serve --forwarded-allow-ips 127.0.0.1,::1   # behind a proxy on this host
        QUOTEBOT_API_KEY=… quotebot serve   # then, with the same key:
        curl -s localhost:8080/v1/libraries/news/docs -H "Authorization: Bearer $KEY" \\
             -H 'Content-Type: application/json' -d '{"url": "https://example.org/story"}'
        quotebot serve --workers 2 --redis-url redis://localhost:6379/0
        quotebot serve --index /srv/index --search-url xapian://10.0.0.5:7001,10.0.0.6:7001
        TELEGRAM_BOT_TOKEN=… TELEGRAM_WEBHOOK_SECRET=… quotebot serve --host 0.0.0.0 \\
             --webhook-url https://bot.example.org/telegram/webhook
    """
    from .config import (
        BotConfig,
        check_api_key,
        default_data_dir,
        install_redaction,
        parse_forwarded_allow_ips,
    )

    install_redaction(token, webhook_secret, api_key)  # first: nothing below may show them
    api_key = check_api_key(api_key)
    if token and not webhook_secret:
        click.echo("Note: TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not, so "
                   "/telegram/webhook is off. Set both to take Telegram updates here, or run "
                   "`quotebot telegram` for polling.", err=True)
    if token and webhook_secret:
        token = _checked_settings(token, api_base_url, webhook_secret)
    if search_url:
        from quotebot.xapian_backend import parse_search_url

        parse_search_url(search_url)  # a malformed URL stops here, in one line
    config = BotConfig(corpus=corpus, index_dir=index_dir, search_url=search_url or None,
                       semantic=semantic, host=host,
                       port=port, token=token,
                       webhook_secret=webhook_secret, webhook_url=webhook_url,
                       api_base_url=api_base_url, redis_url=redis_url,
                       rate_limit_chat=rate_limit_chat, rate_limit_ip=rate_limit_ip,
                       telegram_send_rate=telegram_send_rate,
                       forwarded_allow_ips=parse_forwarded_allow_ips(forwarded_allow_ips),
                       session_memory=session_memory_mb * 1024 * 1024, api_key=api_key,
                       data_dir=data_dir or default_data_dir(), web_uploads=web_uploads,
                       max_document_bytes=megabytes(max_document_mb),
                       library_max_docs=library_max_docs,
                       library_max_bytes=megabytes(library_max_mb), chat_max_docs=chat_max_docs,
                       chat_max_bytes=megabytes(chat_max_mb), web_max_docs=web_max_docs,
                       web_max_bytes=megabytes(web_max_mb), web_max_libraries=web_max_libraries,
                       web_max_total_bytes=megabytes(web_max_total_mb),
                       api_base_file_url=api_base_file_url,
                       workers=workers, answer_processes=answer_processes,
                       answer_nice=answer_nice)
    announced = f"quotebot serving on http://{host}:{port}"
    if workers == 1:
        _serve_one(config, lambda: click.echo(f"{announced} (Ctrl-C to stop)", err=True))
        return
    from .workers import check_port, serve_workers

    if not redis_url:
        click.echo(f"Note: the {workers} workers do not share conversations, rate limits or "
                   f"Telegram updates without --redis-url (QUOTEBOT_REDIS_URL); a follow-up may "
                   f"reach a worker that never saw the question.", err=True)
    try:
        check_port(host, port)
    except OSError as exc:
        _start_failed(_listen_failed(host, port, exc))

    def worker(number: int, ready: Callable[[], None]) -> int:
        # Worker 0 registers with Telegram and computes missing vectors; the rest follow.
        try:
            _serve_one(dataclasses.replace(config, worker=number), ready, reuse_port=True)
        except QuotebotError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            return 1
        return 0

    def ready_all() -> None:
        click.echo(f"{announced} with {workers} workers (Ctrl-C to stop)", err=True)

    code = serve_workers(workers, worker, shutdown_timeout=config.shutdown_timeout,
                         ready=ready_all)
    sys.exit(code)


def _serve_one(config: BotConfig, ready: Callable[[], None], *, reuse_port: bool = False
               ) -> None:
    """Serve ``config`` in this process until stopped; every start failure is one line."""
    from .server import create_app, run_app

    host, port = config.host, config.port
    started = False
    # Answering holds the interpreter lock in a worker thread; the event loop asks for it
    # on every socket event. A shorter switch interval than CPython's 5 ms lets the loop
    # in sooner, so /healthz and new connections are not held behind answers.
    sys.setswitchinterval(SWITCH_INTERVAL)

    def announce(message: Any) -> None:
        nonlocal started
        started = True
        ready()

    try:
        run_app(create_app(config), host=host, port=port, print=announce,
                shutdown_timeout=config.shutdown_timeout, access_log=None,
                reuse_port=reuse_port)
    except QuotebotError:
        raise
    except KeyboardInterrupt:
        if started:
            return
    except OSError as exc:
        if started:
            raise
        _start_failed(_listen_failed(host, port, exc))
    except Exception as exc:
        if started:
            raise
        _start_failed(_unexpected(exc))
    if not started:  # a signal during start-up ends run_app quietly
        _start_failed("Stopped before quotebot started.", 130)


@click.command(cls=SecretSafeCommand)
@corpus_option
@index_option
@semantic_option
@token_option
@api_base_option
@redis_option
@chat_limit_option
@send_rate_option
@click.option("--delete-webhook", is_flag=True,
              help="Remove the registered webhook (so polling can work) and exit.")
@click.option("--set-webhook", "set_webhook", metavar="URL", default=None,
              help="Register URL (https://…/telegram/webhook) as the webhook, with "
                   "TELEGRAM_WEBHOOK_SECRET, and exit.")
@click.option("--webhook-secret", envvar="TELEGRAM_WEBHOOK_SECRET", default=None,
              help="The secret Telegram will send with each webhook call.")
@data_dir_option
@document_mb_option
@chat_docs_option
@chat_mb_option
@file_url_option
@handle_errors
def telegram_command(corpus: str | None, index_dir: str | None, semantic: str,
                     token: str | None,
                     api_base_url: str, redis_url: str | None, rate_limit_chat: float,
                     telegram_send_rate: float, delete_webhook: bool, set_webhook: str | None,
                     webhook_secret: str | None, data_dir: str | None, max_document_mb: float,
                     chat_max_docs: int, chat_max_mb: float,
                     api_base_file_url: str | None) -> None:
    """Run the Telegram bot with long polling (development and small deployments).

    Get a token from @BotFather, then:

    A link or a document (.txt, .md, .html, .pdf) sent to the bot joins the chat's own
    library; the chat's questions are answered from it first (see --chat-max-docs).

    \b
    Examples:
        TELEGRAM_BOT_TOKEN=123456:ABC… quotebot telegram
        TELEGRAM_BOT_TOKEN=… quotebot telegram --corpus ~/articles
        TELEGRAM_BOT_TOKEN=… quotebot telegram --delete-webhook
        TELEGRAM_BOT_TOKEN=… TELEGRAM_WEBHOOK_SECRET=… quotebot telegram \\
            --set-webhook https://bot.example.org/telegram/webhook
    """
    import asyncio

    from .config import BotConfig, default_data_dir, install_redaction

    install_redaction(token, webhook_secret)  # first: nothing below may show them
    token = _checked_settings(token, api_base_url, webhook_secret if set_webhook else None)
    if set_webhook and not webhook_secret:
        click.echo("Error: set TELEGRAM_WEBHOOK_SECRET too; quotebot serve refuses webhook "
                   "calls without it.", err=True)
        sys.exit(2)
    config = BotConfig(corpus=corpus, index_dir=index_dir, semantic=semantic, token=token,
                       api_base_url=api_base_url, redis_url=redis_url,
                       rate_limit_chat=rate_limit_chat, telegram_send_rate=telegram_send_rate,
                       data_dir=data_dir or default_data_dir(),
                       max_document_bytes=megabytes(max_document_mb), chat_max_docs=chat_max_docs,
                       chat_max_bytes=megabytes(chat_max_mb), api_base_file_url=api_base_file_url)
    from . import telegram_start as tg
    from .telegram import TelegramBot

    try:
        if delete_webhook:
            asyncio.run(tg.call_bot_api(config, "remove the webhook",
                                        lambda bot: bot.delete_webhook()))
            click.echo("Webhook removed.", err=True)
            return
        if set_webhook:
            assert webhook_secret
            secret = webhook_secret
            asyncio.run(tg.call_bot_api(config, "set the webhook",
                                        lambda bot: tg.register_webhook(bot, set_webhook, secret,
                                                                        config)))
            click.echo(f"Webhook set to {set_webhook}.", err=True)
            return
        # A wrong token or address fails here, in a second, before the corpus is loaded.
        asyncio.run(tg.call_bot_api(config, "start the Telegram bot"))
        from .answerer import Answerer, settle
        from .metrics import Metrics
        from .sessions_redis import make_store

        answerer = Answerer.open(corpus, index_dir, semantic=semantic)
        bot = TelegramBot(answerer, make_store(redis_url, ttl=config.session_ttl), Metrics(),
                          config)
        application = bot.build_application(webhook=False)
        settle()  # as the server does (quotebot.bot.answerer.settle)

        def announce() -> None:
            # The engine read now: a name kept for it would keep its generation mapped
            # after a new one replaced it.
            click.echo(f"quotebot Telegram bot polling ({len(answerer.engine.documents)} "
                       f"document(s)); Ctrl-C to stop.", err=True)

        asyncio.run(tg.run_polling(application, config, announce))
    except tg.StartInterrupted as exc:
        _start_failed(exc.message, 130)
    except KeyboardInterrupt:
        _start_failed("Stopped before the Telegram bot started.", 130)
    except QuotebotError:
        raise
    except Exception as exc:
        _start_failed(_unexpected(exc))


def _checked_settings(token: str | None, api_base_url: str, webhook_secret: str | None) -> str:
    """The token, once it, the Bot API URL and the webhook secret can work; otherwise one
    sentence (never holding a secret) and exit status 2."""
    from .telegram_start import (
        TelegramSettingError,
        check_api_base_url,
        check_token,
        check_webhook_secret,
    )

    try:
        checked: str = check_token(token)
        check_api_base_url(api_base_url)
        if webhook_secret is not None:
            check_webhook_secret(webhook_secret)
    except TelegramSettingError as exc:
        _start_failed(exc.message, 2)
    return checked


def _unexpected(exc: BaseException) -> str:
    import logging

    from .config import redact

    logging.getLogger("quotebot.bot").debug("start failed", exc_info=exc)
    text = " ".join(redact(str(exc)).split())[:160]
    return f"Could not start: {type(exc).__name__}{': ' + text if text else ''}."


def _listen_failed(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"Cannot listen on {host}:{port}: another program is using it. Stop it, or "
                f"choose another port with --port.")
    if exc.errno == errno.EACCES:
        return (f"Cannot listen on {host}:{port}: permission denied (ports below 1024 need "
                f"privileges); choose another port with --port.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"Cannot listen on {host}:{port}: this machine has no such address (--host)."
    return f"Cannot listen on {host}:{port}: {exc.strerror or exc}."


def _start_failed(message: str, status: int = 1) -> NoReturn:
    """One line on stderr and exit: how every start failure ends."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(status)
