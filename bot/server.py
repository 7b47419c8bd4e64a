"""The aiohttp server: JSON API, web chat page, health, metrics and the Telegram webhook.

``create_app(config)`` builds the application; the engine is loaded once at start-up
in a cleanup context, and every handler only translates HTTP to core calls.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from quotebot.bot.config import BotConfig
from quotebot.bot.metrics import Metrics
from quotebot.bot.ratelimit import RateLimiter
from quotebot.bot.sessions import SessionStore, make_store
from quotebot.engine import QuoteEngine
from quotebot.errors import QuotebotError
from quotebot.logs import request_id
from quotebot.question import MAX_QUESTION_CHARS
from quotebot.session import answer_once, follow_up

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", BotConfig)
ENGINE = web.AppKey("engine", QuoteEngine)
STORE = web.AppKey("store", SessionStore)
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", RateLimiter)
TELEGRAM: web.AppKey[TelegramWebhook | None] = web.AppKey("telegram")

MAX_SESSION_ID = 128
_SESSION_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_JSON_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded",
                         "application/octet-stream"})


class ApiError(Exception):
    """An error answered with the one error shape and an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)


# -- middlewares ------------------------------------------------------------------------------


@web.middleware
async def context_middleware(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
    """A request id on every log line and response, metrics, and the one error shape."""
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex[:16]
    token = request_id.set(rid)
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    response: web.StreamResponse | None = None
    try:
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message)
        except QuotebotError as exc:
            response = error_response(exc.http_status, exc.code, exc.message)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _http_error(exc)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = error_response(500, "internal_error",
                                      "Something went wrong on our side; the error is logged. "
                                      "Please try again.")
        response.headers["X-Request-Id"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - started
        status = str(response.status if response is not None else 499)
        request.app[METRICS].inc("quotebot_http_requests_total",
                                 "HTTP requests, by route and status.",
                                 route=route, method=request.method, status=status)
        request.app[METRICS].observe(elapsed, route=route)
        log.info("%s %s -> %s in %.1f ms", request.method, request.path, status,
                 elapsed * 1000)
        request_id.reset(token)


def _http_error(exc: web.HTTPException) -> web.Response:
    messages = {
        404: ("not_found", "No such endpoint. The API is POST /v1/ask, GET /v1/docs, "
                           "GET /v1/docs/{doc}, GET /healthz, GET /metrics."),
        405: ("method_not_allowed", f"This endpoint does not accept that method; it allows "
                                    f"{', '.join(sorted(getattr(exc, 'allowed_methods', ())))}."),
        413: ("body_too_large", "The request body is too large; the limit is 64 KB."),
    }
    code, message = messages.get(exc.status, ("http_error", exc.reason))
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, headers)


# -- reading requests -------------------------------------------------------------------------


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; ApiError for anything else (415/413/408/400/422)."""
    config = request.app[CONFIG]
    # curl -d sends form encoding by default; its body is still our JSON, so take it.
    if request.content_type not in _JSON_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       f"Send JSON with Content-Type: application/json (got "
                       f"{request.content_type!r}).")
    length = request.content_length
    if length is not None and length > config.max_body:
        raise ApiError(413, "body_too_large",
                       f"The request body is {length:,} bytes; the limit is "
                       f"{config.max_body:,} bytes.")
    try:
        body = await asyncio.wait_for(request.read(), timeout=config.body_timeout)
    except TimeoutError:
        raise ApiError(408, "request_timeout",
                       f"The request body did not arrive within {config.body_timeout:g} s."
                       ) from None
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "body_too_large",
                       f"The request body is over the limit of {config.max_body:,} bytes."
                       ) from None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}."[:300]) from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request",
                       f"The body must be a JSON object like {{\"question\": \"…\"}}, not "
                       f"{type(data).__name__}.")
    return data


def _field(data: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    if name not in data or (data[name] is None and not required):
        if required:
            raise ApiError(422, "missing_field", f"The field {name!r} is required.")
        return None
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ApiError(422, "invalid_field",
                       f"The field {name!r} must be {_kind_name(kind)}, not "
                       f"{_json_type(value)}.")
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer"}.get(kind, kind.__name__)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


# -- handlers ------------------------------------------------------------------------------------


async def ask(request: web.Request) -> web.Response:
    """POST /v1/ask: {"question", "session"?, "k"?, "doc"?} → the answer JSON."""
    app = request.app
    limiter = app[LIMITER]
    address = client_address(request)
    if not limiter.allow(f"ip:{address}"):
        wait = max(1, round(limiter.retry_after(f"ip:{address}")))
        return error_response(429, "rate_limited",
                              f"Too many requests from this address; retry in {wait} s.",
                              headers={"Retry-After": str(wait)})
    data = await read_json_object(request)
    question = _field(data, "question", str, required=True)
    session = _field(data, "session", str)
    k = _field(data, "k", int)
    doc = _field(data, "doc", str)  # answer from this document alone
    if k is None:
        k = 3
    if not 1 <= k <= 50:
        raise ApiError(422, "invalid_field", f"The field 'k' must be between 1 and 50, not {k}.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(422, "question_too_long",
                       f"The question is {len(question):,} characters long; the limit is "
                       f"{MAX_QUESTION_CHARS:,}.")
    if session is not None and not _SESSION_ID.fullmatch(session):
        raise ApiError(422, "invalid_field",
                       "The field 'session' must be 1-128 letters, digits or _.:- characters.")
    engine = app[ENGINE]
    if session is None:
        answer = answer_once(engine, question, k, doc=doc)
    else:
        store = app[STORE]
        key = f"http:{session}"
        async with store.lock(key):
            state = await store.get(key)
            answer, state = follow_up(engine, state, question, k, doc=doc)
            await store.put(key, state)
    app[METRICS].inc("quotebot_answers_total", "Answers given, by outcome.",
                     outcome="answered" if answer.answered else "abstained", frontend="http")
    return web.json_response(answer.to_json(), dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


async def list_docs(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response({"documents": [
        {"doc": d.id, "title": d.title, "sentences": d.sentences} for d in engine.documents
    ]}, dumps=_dumps)


async def show_doc(request: web.Request) -> web.Response:
    document = request.app[ENGINE].document(request.match_info["doc"])
    return web.json_response({"doc": document.id, "title": document.title,
                              "text": document.text}, dumps=_dumps)


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response({
        "status": "ok",
        "documents": len(engine.documents),
        "sentences": engine.index.n_sentences,
        "semantic": engine.vectors is not None,
        "telegram": request.app[CONFIG].telegram_webhook_enabled,
    })


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(),
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


_STATIC = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css"}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


async def static(request: web.Request) -> web.Response:
    name = request.match_info.get("name", "index.html")
    if name not in _STATIC:
        raise web.HTTPNotFound()
    body = resources.files("quotebot.bot").joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=_STATIC[name], charset="utf-8", headers={
        "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})


# -- Telegram webhook --------------------------------------------------------------------------


class RecentIds:
    """The last ``size`` update ids seen, so a redelivered update is acknowledged, not redone."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def seen(self, update_id: int) -> bool:
        if update_id in self._ids:
            return True
        self._ids[update_id] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False


async def telegram_webhook(request: web.Request) -> web.Response:
    """POST /telegram/webhook: check the secret, acknowledge, queue the update for PTB."""
    front = request.app[TELEGRAM]
    if front is None:
        raise web.HTTPNotFound()
    secret = request.app[CONFIG].webhook_secret or ""
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        log.warning("rejected a webhook call without the right secret from %s",
                    client_address(request))
        return error_response(403, "forbidden", "Wrong or missing secret token.")
    data = await read_json_object(request)
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ApiError(422, "invalid_update", "A Telegram update needs an integer update_id.")
    if front.recent.seen(update_id):
        return web.json_response({"ok": True, "duplicate": True})
    from telegram import Update

    try:
        update = Update.de_json(data, front.application.bot)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring a malformed update %s: %s", update_id, exc)
        return web.json_response({"ok": True, "ignored": True})
    await front.application.update_queue.put(update)
    return web.json_response({"ok": True})


class TelegramWebhook:
    """The PTB Application running inside our server, fed by the webhook endpoint."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.recent = RecentIds()


# -- application ---------------------------------------------------------------------------------


async def engine_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    started = time.perf_counter()
    engine = await asyncio.to_thread(QuoteEngine.open, config.corpus, index_dir=config.index_dir,
                                     semantic=config.semantic)
    app[ENGINE] = engine
    app[STORE] = make_store(config.redis_url, ttl=config.session_ttl)
    log.info("loaded %d documents, %d sentences in %.2f s (reranking by meaning: %s)",
             len(engine.documents), engine.index.n_sentences, time.perf_counter() - started,
             "on" if engine.vectors is not None else "off")
    yield
    await app[STORE].close()


class TelegramUnavailable(QuotebotError):
    code = "telegram_unavailable"


async def telegram_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if not config.telegram_webhook_enabled:
        app[TELEGRAM] = None
        yield
        return
    from telegram.error import TelegramError

    from quotebot.bot.telegram import TelegramBot, allowed_updates

    bot = TelegramBot(app[ENGINE], app[STORE], app[METRICS], config)
    application = bot.build_application(webhook=True)
    try:
        await application.initialize()
        await application.start()
        if config.webhook_url:
            await application.bot.set_webhook(config.webhook_url,
                                              secret_token=config.webhook_secret,
                                              allowed_updates=allowed_updates())
            log.info("registered the Telegram webhook")
    except TelegramError as exc:
        # The bot checks its token with the Bot API on start; without it there is no bot.
        raise TelegramUnavailable(
            f"Could not start the Telegram bot: {exc}. Check the network, TELEGRAM_BOT_TOKEN "
            f"and TELEGRAM_API_BASE_URL, or unset TELEGRAM_WEBHOOK_SECRET to serve the HTTP "
            f"API without Telegram.") from None
    app[TELEGRAM] = TelegramWebhook(application)
    yield
    # Updates already acknowledged must still be answered: drain the queue first.
    deadline = time.monotonic() + config.shutdown_timeout
    while not application.update_queue.empty() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await application.stop()
    await application.shutdown()


def create_app(config: BotConfig) -> web.Application:
    """The aiohttp application for ``config`` (the engine loads when it starts)."""
    app = web.Application(client_max_size=config.max_body, middlewares=[context_middleware])
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[LIMITER] = RateLimiter(config.rate_limit_ip)
    app.cleanup_ctx.append(engine_context)
    app.cleanup_ctx.append(telegram_context)
    app.router.add_post("/v1/ask", ask)
    app.router.add_get("/v1/docs", list_docs)
    app.router.add_get("/v1/docs/{doc}", show_doc)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", static)
    app.router.add_get("/static/{name}", static)
    app.router.add_post("/telegram/webhook", telegram_webhook)
    return app
