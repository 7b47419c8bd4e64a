"""The Telegram webhook: ``POST /telegram/webhook`` and the bot running inside the server.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from .http_common import (
    ANSWERER,
    CONFIG,
    METRICS,
    SECRET_HEADER,
    SHELF,
    STORE,
    TELEGRAM,
    ApiError,
    TelegramWebhook,
    error_response,
    header_bytes,
    read_json_object,
)
from .http_proxies import client_address

log = logging.getLogger(__name__)


async def telegram_webhook(request: web.Request) -> web.Response:
    """POST /telegram/webhook: check the secret, acknowledge, queue the update for PTB."""
    front = request.app[TELEGRAM]
    if front is None:
        raise web.HTTPNotFound()
    secret = (request.app[CONFIG].webhook_secret or "").encode()
    # Compared as the bytes sent: a header need not be UTF-8, and must not make us fail.
    if not secret or not hmac.compare_digest(header_bytes(request, SECRET_HEADER), secret):
        log.warning("rejected a webhook call without the right secret from %s",
                    client_address(request))
        return error_response(403, "forbidden", "Wrong or missing secret token.")
    data = await read_json_object(request)
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ApiError(422, "invalid_update", "A Telegram update needs an integer update_id.")
    # Once claimed, the update is queued even if Telegram hangs up meanwhile (a handler is
    # cancelled then): its delivery again would be taken for a duplicate.
    claim = asyncio.ensure_future(_claim_and_queue(request.app, front, update_id, data))
    front.claims.add(claim)
    claim.add_done_callback(front.claims.discard)
    return await asyncio.shield(claim)


async def _claim_and_queue(app: web.Application, front: TelegramWebhook, update_id: int,
                           data: dict[str, Any]) -> web.Response:
    # Claimed in the shared store, so that of replicas behind one Redis only one answers.
    if not await app[STORE].first_delivery(f"{front.bot_id}:{update_id}"):
        return web.json_response({"ok": True, "duplicate": True})
    from telegram import Update

    try:
        update = Update.de_json(data, front.application.bot)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring a malformed update %s: %s", update_id, exc)
        return web.json_response({"ok": True, "ignored": True})
    await front.application.update_queue.put(update)
    return web.json_response({"ok": True})


async def telegram_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if not config.telegram_webhook_enabled:
        app[TELEGRAM] = None
        yield
        return
    from .telegram import TelegramBot
    from .telegram_start import start_telegram

    bot = TelegramBot(app[ANSWERER], app[STORE], app[METRICS], config, shelf=app[SHELF])
    application = bot.build_application(webhook=True)
    # The bot checks its token with the Bot API on start; without it there is no bot.
    await start_telegram(application, config, hint=", or unset TELEGRAM_WEBHOOK_SECRET to "
                                                   "serve the HTTP API without Telegram")
    front = app[TELEGRAM] = TelegramWebhook(application)
    yield
    # Updates already acknowledged must still be answered: those being queued (their
    # requests may have been cancelled as the server stopped) are waited for, then the
    # queue is drained.
    deadline = time.monotonic() + config.shutdown_timeout
    if front.claims:
        await asyncio.wait(set(front.claims), timeout=config.shutdown_timeout)
    while not application.update_queue.empty() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await application.stop()
    await application.shutdown()
