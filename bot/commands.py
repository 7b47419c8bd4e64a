"""`quotebot serve` and `quotebot telegram`.

Only click is imported here: aiohttp and python-telegram-bot load inside the
commands, so `quotebot ask` never pays for them.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from quotebot.frontend import handle_errors
from quotebot.options import corpus_option, index_option, semantic_option

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


@click.command()
@click.option("--host", envvar="QUOTEBOT_HOST", default="127.0.0.1", show_default=True,
              show_envvar=True, help="Address to listen on (0.0.0.0 to accept outside calls).")
@click.option("--port", envvar="QUOTEBOT_PORT", default=8080, show_default=True,
              show_envvar=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@corpus_option
@index_option
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
@click.option("--rate-limit-ip", envvar="QUOTEBOT_RATE_LIMIT_IP", show_envvar=True,
              default=600.0, type=click.FloatRange(min=0), show_default=True,
              help="HTTP requests per minute one client address may send (0: no limit).")
@handle_errors
def serve_command(host: str, port: int, corpus: str | None, index_dir: str | None,
                  semantic: str, token: str | None, webhook_secret: str | None,
                  webhook_url: str | None,
                  api_base_url: str, redis_url: str | None, rate_limit_chat: float,
                  rate_limit_ip: float) -> None:
    """Serve the JSON API, the web chat page and (optionally) the Telegram webhook.

    \b
    Endpoints: POST /v1/ask, GET /v1/docs, GET /v1/docs/{doc}, GET /healthz,
    GET /metrics, GET / (chat page), POST /telegram/webhook.

    \b
    Examples:
        quotebot serve
        curl -s localhost:8080/v1/ask -H 'Content-Type: application/json' \\
             -d '{"question": "how many stabbings?"}'
        TELEGRAM_BOT_TOKEN=… TELEGRAM_WEBHOOK_SECRET=… quotebot serve --host 0.0.0.0 \\
             --webhook-url https://bot.example.org/telegram/webhook
    """
    from aiohttp import web

    from quotebot.bot.config import BotConfig, install_redaction
    from quotebot.bot.server import create_app

    install_redaction(token, webhook_secret)
    if token and not webhook_secret:
        click.echo("Note: TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not, so "
                   "/telegram/webhook is off. Set both to take Telegram updates here, or run "
                   "`quotebot telegram` for polling.", err=True)
    config = BotConfig(corpus=corpus, index_dir=index_dir, semantic=semantic, host=host,
                       port=port, token=token,
                       webhook_secret=webhook_secret, webhook_url=webhook_url,
                       api_base_url=api_base_url, redis_url=redis_url,
                       rate_limit_chat=rate_limit_chat, rate_limit_ip=rate_limit_ip)

    def announce(message: Any) -> None:
        click.echo(f"quotebot serving on http://{host}:{port} (Ctrl-C to stop)", err=True)

    web.run_app(create_app(config), host=host, port=port, print=announce,
                shutdown_timeout=config.shutdown_timeout, access_log=None)


@click.command()
@corpus_option
@index_option
@semantic_option
@token_option
@api_base_option
@redis_option
@chat_limit_option
@click.option("--delete-webhook", is_flag=True,
              help="Remove the registered webhook (so polling can work) and exit.")
@click.option("--set-webhook", "set_webhook", metavar="URL", default=None,
              help="Register URL (https://…/telegram/webhook) as the webhook, with "
                   "TELEGRAM_WEBHOOK_SECRET, and exit.")
@click.option("--webhook-secret", envvar="TELEGRAM_WEBHOOK_SECRET", default=None,
              help="The secret Telegram will send with each webhook call.")
@handle_errors
def telegram_command(corpus: str | None, index_dir: str | None, semantic: str,
                     token: str | None,
                     api_base_url: str, redis_url: str | None, rate_limit_chat: float,
                     delete_webhook: bool, set_webhook: str | None,
                     webhook_secret: str | None) -> None:
    """Run the Telegram bot with long polling (development and small deployments).

    Get a token from @BotFather, then:

    \b
    Examples:
        TELEGRAM_BOT_TOKEN=123456:ABC… quotebot telegram
        TELEGRAM_BOT_TOKEN=… quotebot telegram --corpus ~/articles
        TELEGRAM_BOT_TOKEN=… quotebot telegram --delete-webhook
        TELEGRAM_BOT_TOKEN=… TELEGRAM_WEBHOOK_SECRET=… quotebot telegram \\
            --set-webhook https://bot.example.org/telegram/webhook
    """
    if not token:
        click.echo("Error: no bot token. Get one from @BotFather and set TELEGRAM_BOT_TOKEN "
                   "(or pass --token).", err=True)
        sys.exit(2)
    import asyncio
    import logging

    from quotebot.bot.config import BotConfig, install_redaction

    install_redaction(token)
    config = BotConfig(corpus=corpus, index_dir=index_dir, semantic=semantic, token=token,
                       api_base_url=api_base_url, redis_url=redis_url,
                       rate_limit_chat=rate_limit_chat)
    if delete_webhook:
        asyncio.run(_webhook(config, None, None))
        click.echo("Webhook removed.", err=True)
        return
    if set_webhook:
        if not webhook_secret:
            click.echo("Error: set TELEGRAM_WEBHOOK_SECRET too; quotebot serve refuses webhook "
                       "calls without it.", err=True)
            sys.exit(2)
        install_redaction(token, webhook_secret)
        asyncio.run(_webhook(config, set_webhook, webhook_secret))
        click.echo(f"Webhook set to {set_webhook}.", err=True)
        return
    from quotebot.bot.metrics import Metrics
    from quotebot.bot.sessions import make_store
    from quotebot.bot.telegram import TelegramBot, allowed_updates
    from quotebot.frontend import open_engine

    if logging.getLogger().level > logging.INFO:
        logging.getLogger("quotebot").setLevel(logging.INFO)
    engine = open_engine(corpus, index_dir, semantic)  # reports a long build on stderr
    bot = TelegramBot(engine, make_store(redis_url, ttl=config.session_ttl), Metrics(), config)
    application = bot.build_application(webhook=False)
    click.echo(f"quotebot Telegram bot polling ({len(engine.documents)} document(s)); "
               f"Ctrl-C to stop.", err=True)
    application.run_polling(allowed_updates=allowed_updates(), close_loop=False)


async def _webhook(config: Any, url: str | None, secret: str | None) -> None:
    """Register the webhook at ``url`` (with ``secret``), or remove it when ``url`` is None."""
    from telegram import Bot

    from quotebot.bot.telegram import allowed_updates

    async with Bot(config.token, base_url=config.api_base_url) as bot:
        if url is None:
            await bot.delete_webhook()
        else:
            await bot.set_webhook(url, secret_token=secret, allowed_updates=allowed_updates())
