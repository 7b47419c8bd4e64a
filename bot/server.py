"""The aiohttp server: JSON API, web chat page, health, metrics and the Telegram webhook.

``create_app(config)`` builds the application; the engine is loaded once at start-up
in a cleanup context, and every handler only translates HTTP to core calls.
``run_app`` serves it like ``aiohttp.web.run_app``, and also answers requests too
malformed to reach the application in the one error shape.

The rooms: asking (http_ask), documents and pages (http_docs), libraries and uploads
(http_libraries), saved conversations (http_transcript), health and metrics (http_health),
the Telegram webhook (http_webhook), client addresses behind proxies (http_proxies); what
they share is in http_common.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import http_exceptions, web

from quotebot.errors import QuotebotError
from quotebot.logs import request_id

from .answer_processes import AnswerProcesses, opening_for
from .answerer import Answerer, settle, unsettle
from .config import BotConfig
from .http_ask import ask
from .http_common import (
    ANSWERER,
    CONFIG,
    LIMITER,
    METRICS,
    SHELF,
    STORE,
    WEB_ADDS,
    WEB_ADDS_BURST,
    WEB_ADDS_PER_MINUTE,
    ApiError,
    error_response,
)
from .http_docs import doc_page, download_doc, favicon, list_docs, show_doc, static
from .http_health import healthz, metrics
from .http_libraries import (
    add_library_doc,
    add_session_doc,
    list_library_docs,
    list_session_docs,
    remove_library_doc,
    remove_session_doc,
    session_libraries_context,
    show_library_doc,
    web_config,
)
from .http_transcript import transcript
from .http_webhook import telegram_context, telegram_webhook
from .libraries import Shelf
from .metrics import Metrics
from .ratelimit import RateLimiter
from .sessions_redis import make_store

log = logging.getLogger(__name__)


_REQUEST_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


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
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
        except QuotebotError as exc:
            response = error_response(exc.http_status, exc.code, exc.message)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _http_error(exc)
        except Exception as exc:
            if isinstance(exc, ConnectionResetError) and _client_gone(request):
                # The client closed its connection before its request arrived in full:
                # nothing went wrong here, and nobody is left to answer (499, as nginx counts
                # it).
                log.info("the client closed the connection before its request arrived")
                response = error_response(499, "client_closed_request",
                                          "The connection closed before the request arrived.")
            else:
                log.exception("unexpected error on %s %s", request.method, request.path)
                response = error_response(500, "internal_error",
                                          "Something went wrong on our side; the error is "
                                          "logged. Please try again.")
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


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _http_error(exc: web.HTTPException) -> web.Response:
    messages = {
        404: ("not_found", "No such endpoint. The API is POST /v1/ask, GET /v1/docs, "
                           "GET /v1/docs/{doc}, GET /healthz, GET /metrics, and "
                           "/v1/libraries/{name}/docs."),
        405: ("method_not_allowed", f"This endpoint does not accept that method; it allows "
                                    f"{', '.join(sorted(getattr(exc, 'allowed_methods', ())))}."),
        413: ("body_too_large", "The request body is too large; the limit is 64 KB."),
    }
    code, message = messages.get(exc.status, ("http_error", exc.reason))
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, headers)


async def engine_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    started = time.perf_counter()
    shelf = Shelf(config.data_dir, semantic=config.semantic) if config.data_dir else None
    app[SHELF] = shelf
    if shelf is not None and (config.libraries_enabled or config.web_uploads_enabled or (
            config.telegram_webhook_enabled and config.chat_libraries_enabled)):
        # While the index opens, so that the first add does not wait for the processes.
        shelf.adds.start()
    answerer: Answerer | None = None
    try:
        if config.answer_processes:
            # The modules answering runs load while the index opens.
            await asyncio.to_thread(AnswerProcesses.prepare)
        answerer = await asyncio.to_thread(Answerer.open, config.corpus, config.index_dir,
                                           semantic=config.semantic, embed=config.primary,
                                           search_url=config.search_url)
        if config.answer_processes:
            # Once the index is open (and saved, if it was built): they open it too, while
            # the server starts serving.
            processes = AnswerProcesses(opening_for(
                config.corpus, config.index_dir, semantic=config.semantic,
                watch_seconds=answerer.watch_seconds, search_url=config.search_url,
                data_dir=str(shelf.root) if shelf is not None else None,
                niceness=config.answer_nice),
                config.answer_processes)
            answerer.elsewhere = processes
            processes.start()
    except BaseException:
        if answerer is not None:
            answerer.close()
        if shelf is not None:
            shelf.close()
        raise
    app[ANSWERER] = answerer
    app[STORE] = make_store(config.redis_url, ttl=config.session_ttl,
                            max_bytes=config.session_memory)
    # (No local name for the engine: this frame lives as long as the server, and would
    # keep the first generation of the index mapped after a new one replaced it.)
    log.info("loaded %d documents, %d sentences in %.2f s (reranking by meaning: %s)",
             len(answerer.engine.documents), answerer.engine.index.n_sentences,
             time.perf_counter() - started, answerer.semantic_status)
    await app[STORE].health()  # logs a warning now if Redis is configured but not usable
    settle()  # before serving: the collector's full passes no longer hold the loop
    yield
    answerer.close()
    if shelf is not None:
        shelf.close()
    await app[STORE].close()
    del answerer, shelf
    unsettle()


def create_app(config: BotConfig) -> web.Application:
    """The aiohttp application for ``config`` (the engine loads when it starts)."""
    app = web.Application(client_max_size=config.max_body, middlewares=[context_middleware])
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[LIMITER] = RateLimiter(config.rate_limit_ip)
    app[WEB_ADDS] = RateLimiter(WEB_ADDS_PER_MINUTE, burst=WEB_ADDS_BURST)
    app.cleanup_ctx.append(engine_context)
    app.cleanup_ctx.append(session_libraries_context)
    app.cleanup_ctx.append(telegram_context)
    app.router.add_post("/v1/ask", ask)
    app.router.add_post("/v1/transcript", transcript)
    app.router.add_get("/v1/docs", list_docs)
    app.router.add_get("/v1/docs/{doc}", show_doc)
    app.router.add_get("/v1/docs/{doc}/text", download_doc)
    app.router.add_post("/v1/libraries/{name}/docs", add_library_doc)
    app.router.add_get("/v1/libraries/{name}/docs", list_library_docs)
    app.router.add_get("/v1/libraries/{name}/docs/{doc}", show_library_doc)
    app.router.add_delete("/v1/libraries/{name}/docs/{doc}", remove_library_doc)
    app.router.add_get("/v1/config", web_config)
    app.router.add_post("/v1/session/docs", add_session_doc)
    app.router.add_get("/v1/session/docs", list_session_docs)
    app.router.add_delete("/v1/session/docs/{doc}", remove_session_doc)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", static)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/docs/{doc}", doc_page)
    app.router.add_post("/telegram/webhook", telegram_webhook)
    return app


class _JsonErrorRequestHandler(web.RequestHandler):
    """aiohttp's HTTP protocol, answering what it cannot parse in the one error shape.

    aiohttp 3 answers a bad request line or header itself, as plain text, before any
    middleware runs (aio-libs/aiohttp#3287; 4.0 sends such requests through middleware).
    ``handle_error`` is where it writes that answer.
    """

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None
                     ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("The response has begun; no error response can follow.")
        code, text = _protocol_error(status, exc)
        if status >= 500:
            log.error("error handling a request from %s", request.remote, exc_info=exc)
        else:
            log.info("refused a malformed request from %s: %s", request.remote,
                     str(exc or message)[:300])
        response = error_response(status, code, text)
        response.force_close()
        return response


def _protocol_error(status: int, exc: BaseException | None) -> tuple[str, str]:
    if isinstance(exc, http_exceptions.LineTooLong):
        return "line_too_long", ("A request line or header is too long; the limit is "
                                 "8,190 bytes.")
    if isinstance(exc, http_exceptions.BadHttpMethod | http_exceptions.BadStatusLine):
        return "malformed_request", ("The request line is not HTTP: send "
                                     "'METHOD /path HTTP/1.1', e.g. 'POST /v1/ask HTTP/1.1'.")
    if status == 504:
        return "timeout", "The request took too long to handle; please try again."
    if status >= 500:
        return "internal_error", ("Something went wrong on our side; the error is logged. "
                                  "Please try again.")
    return "malformed_request", ("The request is not valid HTTP/1.1: a header or the "
                                 "framing of its body could not be read.")


class _JsonErrorServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class _AppRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application's own server, built as aiohttp builds it; only its protocol differs.
        server.__class__ = _JsonErrorServer
        return server


def run_app(app: web.Application, *, host: str, port: int, print: Callable[[str], None],
            shutdown_timeout: float, access_log: logging.Logger | None = None,
            reuse_port: bool = False) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, as ``aiohttp.web.run_app`` does, then finish
    in-flight requests (up to ``shutdown_timeout`` seconds) and run the cleanup contexts.
    ``reuse_port``: share the port with the other workers (see quotebot.bot.workers)."""
    asyncio.run(_serve(app, host=host, port=port, print=print,
                       shutdown_timeout=shutdown_timeout, access_log=access_log,
                       reuse_port=reuse_port))


async def _serve(app: web.Application, *, host: str, port: int, print: Callable[[str], None],
                 shutdown_timeout: float, access_log: logging.Logger | None,
                 reuse_port: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # A client that hangs up cancels its request's handler (aiohttp leaves it running by
    # default): a question still waiting for its turn to be answered is then never
    # answered, and those behind it do not wait for it. Work that must finish whatever
    # the client does is shielded where it is done (the Telegram webhook's update).
    runner = _AppRunner(app, shutdown_timeout=shutdown_timeout, access_log=access_log,
                        handler_cancellation=True)
    setup = asyncio.ensure_future(runner.setup())

    def on_signal() -> None:
        # A signal while starting (loading the index, reaching Telegram) stops the start;
        # once serving, it begins a graceful shutdown.
        if not setup.done():
            setup.cancel()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    try:
        await setup
    except asyncio.CancelledError:
        await runner.cleanup()
        raise KeyboardInterrupt from None
    except BaseException:
        # What started before the failure (the index, the answering processes) stops.
        await runner.cleanup()
        raise
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        print(f"======== Running on http://{host}:{port} ========")
        await stop.wait()
    finally:
        await runner.cleanup()
