"""The aiohttp server: JSON API, web chat page, health, metrics and the Telegram webhook.

``create_app(config)`` builds the application; the engine is loaded once at start-up
in a cleanup context, and every handler only translates HTTP to core calls.
``run_app`` serves it like ``aiohttp.web.run_app``, and also answers requests too
malformed to reach the application in the one error shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import ipaddress
import json
import logging
import math
import re
import secrets
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from html import escape
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import http_exceptions, web

from quotebot.bot.answerer import Answerer
from quotebot.bot.config import BotConfig, IPNetwork
from quotebot.bot.libraries import (
    Shelf,
    check_name,
    converse,
    keep_session_library,
    session_library,
    sweep_session_libraries,
    text_document,
)
from quotebot.bot.metrics import Metrics
from quotebot.bot.ratelimit import RateLimiter
from quotebot.bot.sessions import SessionStore, make_store
from quotebot.errors import QuotebotError, UnknownDocument
from quotebot.logs import request_id
from quotebot.question import MAX_QUESTION_CHARS
from quotebot.sentences import paragraph_spans
from quotebot.session import SessionState

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", BotConfig)
ANSWERER = web.AppKey("answerer", Answerer)
STORE = web.AppKey("store", SessionStore)
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", RateLimiter)
TELEGRAM: web.AppKey[TelegramWebhook | None] = web.AppKey("telegram")
SHELF: web.AppKey[Shelf | None] = web.AppKey("shelf")
#: Links one client address may add from the web page per minute, and at once (a reader
#: pasting a few links in a row is not held up).
WEB_ADDS_PER_MINUTE = 10.0
WEB_ADDS_BURST = 5
WEB_ADDS = web.AppKey("web_adds", RateLimiter)
#: Seconds between sweeps for the libraries of ended web page sessions (at most).
SWEEP_EVERY = 60.0
#: Seconds an upload may take to arrive.
UPLOAD_TIMEOUT = 60.0

#: Random bytes in a session id (secrets.token_urlsafe: 24 characters, 144 bits).
SESSION_BYTES = 18
_SESSION_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_JSON_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded",
                         "application/octet-stream"})


class ApiError(Exception):
    """An error answered with the one error shape and an HTTP status."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": public_message(message)}},
                             status=status, headers=headers)


#: An absolute path, quoted as quotebot's messages quote paths ('/srv/quotebot/index').
_QUOTED_PATH = re.compile(r"""(['"])(/[^'"\n]*)\1""")


def public_message(message: str) -> str:
    """An error message fit for clients: the server's own folders are none of their business,
    so a quoted absolute path keeps only its last part, and the home folder is ``~``; the
    command that lists documents is the endpoint that does."""
    message = _QUOTED_PATH.sub(
        lambda m: f"{m[1]}{PurePosixPath(m[2]).name or '/'}{m[1]}", message)
    # Advice written for the command line, in the API's own words.
    message = message.replace("`quotebot docs` lists them all", "GET /v1/docs lists them all")
    home = str(Path.home())
    return message.replace(home, "~") if len(home) > 1 else message


async def _rate_limited(request: web.Request, kind: str, limiter: RateLimiter, what: str
                        ) -> web.Response | None:
    """The 429 for a client address over ``limiter`` (counted under ``kind``), or None."""
    address = client_address(request)
    waiting = await request.app[STORE].take(f"{kind}:{address}", limiter)
    if not waiting:
        return None
    wait = max(1, math.ceil(waiting))
    return error_response(429, "rate_limited",
                          f"Too many {what} from this address; retry in {wait} s.",
                          headers={"Retry-After": str(wait)})


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
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
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
                           "GET /v1/docs/{doc}, GET /healthz, GET /metrics, and "
                           "/v1/libraries/{name}/docs."),
        405: ("method_not_allowed", f"This endpoint does not accept that method; it allows "
                                    f"{', '.join(sorted(getattr(exc, 'allowed_methods', ())))}."),
        413: ("body_too_large", "The request body is too large; the limit is 64 KB."),
    }
    code, message = messages.get(exc.status, ("http_error", exc.reason))
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, headers)


# -- reading requests -------------------------------------------------------------------------


async def read_json_object(request: web.Request, *, max_body: int | None = None,
                           timeout: float | None = None) -> dict[str, Any]:
    """The request's JSON object body; ApiError for anything else (415/413/408/400/422).
    ``max_body`` and ``timeout`` (default: the configured ones) allow a larger body."""
    config = request.app[CONFIG]
    limit = max_body if max_body is not None else config.max_body
    wait = timeout if timeout is not None else config.body_timeout
    # curl -d sends form encoding by default; its body is still our JSON, so take it.
    if request.content_type not in _JSON_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       f"Send JSON with Content-Type: application/json (got "
                       f"{request.content_type!r}).")
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, "body_too_large",
                       f"The request body is {length:,} bytes; the limit is {limit:,} bytes.")
    try:
        if limit <= config.max_body:
            body = await asyncio.wait_for(request.read(), timeout=wait)
        else:
            body = await asyncio.wait_for(_read_limited(request, limit), timeout=wait)
    except TimeoutError:
        raise ApiError(408, "request_timeout",
                       f"The request body did not arrive within {wait:g} s.") from None
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "body_too_large",
                       f"The request body is over the limit of {limit:,} bytes.") from None
    except web.RequestPayloadError:
        raise ApiError(400, "invalid_body",
                       "The request body could not be read: its chunked encoding or "
                       "compression is broken.") from None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}."[:300]) from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request",
                       f"The body must be a JSON object like {{\"question\": \"…\"}}, not "
                       f"{_json_type(data)}.")
    return data


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, read past the application's size cap up to ``limit`` bytes (texts added to
    a library are larger than questions)."""
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(data))
    return bytes(data)


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
    """The client's address, as rate limits and logs know it.

    The peer's address, unless the peer is a proxy listed in ``--forwarded-allow-ips``:
    then the right-most X-Forwarded-For entry that is not itself such a proxy (each proxy
    appends the address it saw, so entries left of the last trusted one are the client's
    own claims). A header from any other peer is ignored.
    """
    peer = request.remote or "unknown"
    trusted = request.app[CONFIG].forwarded_allow_ips
    if not trusted or not _is_trusted(_parse_address(peer), trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ())
            for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _parse_address(hop)
        client = str(address) if address is not None else hop[:64]
        if not _is_trusted(address, trusted):
            return client
    return client  # every hop a trusted proxy: the left-most is as far as anyone can tell


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or an X-Forwarded-For entry ("[::1]:443" and "1.2.3.4:80" too)."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
                trusted: tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


# -- handlers ------------------------------------------------------------------------------------


async def ask(request: web.Request) -> web.Response:
    """POST /v1/ask: {"question", "session"?, "k"?, "doc"?, "library"?} → the answer JSON and
    its "session".

    Without ``session`` a conversation starts and its new id comes back; with one the
    server issued (and that has not expired) the question follows up on it; any other
    id is 404 ``unknown_session``, so nobody can read or join a conversation by guessing.
    ``doc`` asks one document of the corpus; ``library`` (with the API key) asks that
    library instead of the corpus. A web page session that added links is answered from
    them first, and from the corpus when they do not answer.
    """
    app = request.app
    refused = await _rate_limited(request, "ip", app[LIMITER], "requests")
    if refused is not None:
        return refused
    data = await read_json_object(request)
    question = _field(data, "question", str, required=True)
    session = _field(data, "session", str)
    k = _field(data, "k", int)
    doc = _field(data, "doc", str)  # answer from this document alone
    library = _field(data, "library", str)
    if k is None:
        k = 3
    if not 1 <= k <= 50:
        raise ApiError(422, "invalid_field", f"The field 'k' must be between 1 and 50, not {k}.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(422, "question_too_long",
                       f"The question is {len(question):,} characters long; the limit is "
                       f"{MAX_QUESTION_CHARS:,}.")
    if library is not None:
        _authorize(request)
        library = check_name(library)
    store = app[STORE]
    if session is None:
        session = secrets.token_urlsafe(SESSION_BYTES)
        answer = await _turn(app, f"http:{session}", SessionState(), question, k, doc, library)
    else:
        if not _SESSION_ID.fullmatch(session):
            raise _unknown_session(app[CONFIG])
        key = f"http:{session}"
        async with store.lock(key):
            found = await store.find(key)
            if found is None:
                raise _unknown_session(app[CONFIG])
            answer = await _turn(app, key, found, question, k, doc, library,
                                 own_library=session_library(session))
            if app[CONFIG].web_uploads_enabled:
                await keep_session_library(store, session_library(session), only_if_kept=True)
    app[METRICS].inc("quotebot_answers_total", "Answers given, by outcome.",
                     outcome="answered" if answer.answered else "abstained", frontend="http")
    return web.json_response({**answer.to_json(), "session": session}, dumps=_dumps)


async def _turn(app: web.Application, key: str, state: SessionState, question: str, k: int,
                doc: str | None, library: str | None, own_library: str | None = None
                ) -> Any:
    """Answer one question of conversation ``key`` and keep its new state: from the named
    ``library``, or from the session's own library then the corpus (web uploads), or from
    the corpus."""
    answerer = app[ANSWERER]
    store = app[STORE]
    shelf = app[SHELF]
    if library is not None:
        assert shelf is not None  # _authorize checked that libraries are on
        named = library

        def from_library() -> tuple[Any, SessionState]:
            from quotebot.session import follow_up

            engine = shelf.engine(named)
            if engine is None:
                raise _unknown_library(named)
            return follow_up(engine, state, question, k, doc=doc)

        answer, state = await answerer.run(from_library)
        await store.put(key, state)
        return answer
    if own_library is not None and doc is None and shelf is not None and \
            app[CONFIG].web_uploads_enabled:
        turn = await converse(answerer, shelf, own_library, store, key, question, k,
                              corpus_state=state)
        return turn.answer
    answer, state = await answerer.follow_up(state, question, k, doc=doc)
    await store.put(key, state)
    return answer


def _unknown_library(name: str) -> ApiError:
    return ApiError(404, "unknown_library",
                    f"There is no library {name!r} (or it has no documents): add one with "
                    f"POST /v1/libraries/{name}/docs.")


def _unknown_session(config: BotConfig) -> ApiError:
    hours = config.session_ttl / 3600
    return ApiError(404, "unknown_session",
                    f"No conversation has that 'session' id: this server did not issue it, or "
                    f"it expired ({hours:g} h after its last question). Ask without 'session' "
                    f"to start a new conversation; the answer carries its id.")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


async def list_docs(request: web.Request) -> web.Response:
    engine = request.app[ANSWERER].engine
    return web.json_response({"documents": [
        {"doc": d.id, "title": d.title, "sentences": d.sentences} for d in engine.documents
    ]}, dumps=_dumps)


async def show_doc(request: web.Request) -> web.Response:
    document = request.app[ANSWERER].engine.document(request.match_info["doc"])
    return web.json_response({"doc": document.id, "title": document.title,
                              "text": document.text}, dumps=_dumps)


# -- libraries -----------------------------------------------------------------------------------


def _authorize(request: web.Request) -> None:
    """Let the request through when it carries the API key; ApiError 403 when libraries are
    off, 401 (with ``WWW-Authenticate``) when the key is missing or wrong."""
    config = request.app[CONFIG]
    if not config.libraries_enabled or request.app[SHELF] is None:
        raise ApiError(403, "libraries_disabled",
                       "Libraries are off on this server. Its operator enables them by "
                       "setting QUOTEBOT_API_KEY (at least 16 characters); clients then send "
                       "'Authorization: Bearer KEY'.")
    assert config.api_key is not None
    scheme, _, given = _header_bytes(request, "Authorization").strip().partition(b" ")
    # Compared as the bytes sent, in constant time.
    if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(),
                                                              config.api_key.encode()):
        log.warning("refused a library request without the right API key from %s",
                    client_address(request))
        raise ApiError(401, "unauthorized",
                       "Send the server's API key as 'Authorization: Bearer KEY' to use "
                       "libraries.", headers={"WWW-Authenticate": 'Bearer realm="quotebot"'})


def _shelf(request: web.Request) -> Shelf:
    shelf = request.app[SHELF]
    assert shelf is not None  # _authorize or the caller checked
    return shelf


async def add_library_doc(request: web.Request) -> web.Response:
    """POST /v1/libraries/{name}/docs: {"url"}, {"text", "title"?, "url"?} or a multipart
    file (field "file") → 201 {"doc", "title", "url", "sentences"}."""
    _authorize(request)
    name = check_name(request.match_info["name"])
    config = request.app[CONFIG]
    extract = await _document_from_request(request)
    added, _ = await _shelf(request).add(name, extract, config.library_limits("api"))
    return web.json_response(added.to_json(), status=201, dumps=_dumps)


async def list_library_docs(request: web.Request) -> web.Response:
    """GET /v1/libraries/{name}/docs → {"library", "documents": [{"doc", "title", "url",
    "sentences"}]}."""
    _authorize(request)
    name = check_name(request.match_info["name"])
    docs = await _shelf(request).documents(name)
    if docs is None:
        raise _unknown_library(name)
    return web.json_response({"library": name, "documents": [
        {"doc": d.id, "title": d.title, "url": d.url, "sentences": d.sentences} for d in docs
    ]}, dumps=_dumps)


async def show_library_doc(request: web.Request) -> web.Response:
    """GET /v1/libraries/{name}/docs/{doc} → {"doc", "title", "url", "text"}."""
    _authorize(request)
    name = check_name(request.match_info["name"])
    shelf = _shelf(request)

    def read() -> Any:
        engine = shelf.engine(name)
        if engine is None:
            raise _unknown_library(name)
        return engine.document(request.match_info["doc"])

    try:
        document = await request.app[ANSWERER].run(read)
    except UnknownDocument:
        raise _unknown_library_doc(name, request.match_info["doc"]) from None
    return web.json_response({"doc": document.id, "title": document.title, "url": document.url,
                              "text": document.text}, dumps=_dumps)


def _unknown_library_doc(name: str, doc: str) -> ApiError:
    shown = doc if len(doc) <= 70 else doc[:70] + "…"
    return ApiError(404, "unknown_document",
                    f"No document {shown!r} in library {name!r}; GET /v1/libraries/{name}/docs "
                    f"lists its documents.")


async def remove_library_doc(request: web.Request) -> web.Response:
    """DELETE /v1/libraries/{name}/docs/{doc} → {"doc", "title", "url", "removed": true}."""
    _authorize(request)
    name = check_name(request.match_info["name"])
    try:
        (gone,) = await _shelf(request).remove(name, [request.match_info["doc"]])
    except QuotebotError as exc:
        if exc.code == UnknownDocument.code:
            raise _unknown_library_doc(name, request.match_info["doc"]) from None
        raise
    return web.json_response({"doc": gone.id, "title": gone.title, "url": gone.url,
                              "removed": True}, dumps=_dumps)


async def web_config(request: web.Request) -> web.Response:
    """GET /v1/config: what the web page may offer (adding links, and how many)."""
    config = request.app[CONFIG]
    uploads = config.web_uploads_enabled and request.app[SHELF] is not None
    return web.json_response({"uploads": uploads,
                              "max_documents": config.web_max_docs if uploads else 0})


async def add_session_doc(request: web.Request) -> web.Response:
    """POST /v1/session/docs: {"url", "session"?} → 201 {"doc", "title", "url",
    "sentences", "session"}: the web page adds a link to its session's own library (with
    ``--web-uploads``); the session's questions are answered from it first."""
    app = request.app
    config = app[CONFIG]
    if not config.web_uploads_enabled or app[SHELF] is None:
        raise ApiError(403, "uploads_disabled",
                       "This server does not let the web page add links; its operator can "
                       "enable it with QUOTEBOT_WEB_UPLOADS=1.")
    refused = await _rate_limited(request, "add", app[WEB_ADDS], "links added")
    if refused is not None:
        return refused
    data = await read_json_object(request)
    url = _field(data, "url", str, required=True)
    session = _field(data, "session", str)
    store = app[STORE]
    if session is None:
        session = secrets.token_urlsafe(SESSION_BYTES)
        await store.put(f"http:{session}", SessionState())
    elif not _SESSION_ID.fullmatch(session) or await store.find(f"http:{session}") is None:
        raise _unknown_session(config)
    shelf = _shelf(request)
    name = session_library(session)
    if not (shelf.root / name).exists() and \
            len(shelf.session_libraries(saved=True)) >= config.web_max_libraries:
        raise ApiError(503, "web_libraries_full",
                       "The web page's own articles are full at the moment; please try again "
                       "later, or ask about the articles this server reads.",
                       headers={"Retry-After": "60"})
    await keep_session_library(store, name)  # before adding: a sweep never takes it meanwhile
    extract = await _document_from_link(request, url)
    added, _ = await shelf.add(name, extract, config.library_limits("web"))
    return web.json_response({**added.to_json(), "session": session}, status=201,
                             dumps=_dumps)


Extraction = Callable[[], Any]


async def _document_from_request(request: web.Request) -> Extraction:
    """The document a request brings (a link to fetch, a text, or an uploaded file), as its
    extraction, to run in the library's turn of the adding processes."""
    from quotebot.ingest import extract_bytes

    config = request.app[CONFIG]
    if request.content_type == "multipart/form-data":
        name, upload = await _read_upload(request)
        return functools.partial(extract_bytes, upload, name=name,
                                 max_bytes=config.max_document_bytes)
    data = await read_json_object(request, max_body=config.max_document_bytes + 64 * 1024,
                                  timeout=UPLOAD_TIMEOUT)
    url = _field(data, "url", str)
    text = _field(data, "text", str)
    if (url is None) == (text is None):
        raise ApiError(422, "missing_field",
                       "Send {\"url\": \"https://…\"} to add a page, or {\"text\": \"…\", "
                       "\"title\": \"…\"} to add a text, or the file as multipart field "
                       "'file'.")
    if text is None:
        return await _document_from_link(request, url)
    title = _field(data, "title", str)
    if not text.strip():
        raise ApiError(422, "invalid_field", "The field 'text' is empty.")
    return functools.partial(text_document, text, title, url)


async def _document_from_link(request: web.Request, url: str) -> Extraction:
    """Fetch ``url`` without blocking (only http(s), public addresses unless allowed); its
    extraction."""
    from quotebot.ingest import FetchPolicy, document_from_page, fetch_url_async, is_url

    if not is_url(url):
        raise ApiError(422, "invalid_field",
                       "The field 'url' must be an http:// or https:// link.")
    config = request.app[CONFIG]
    page = await fetch_url_async(url, policy=FetchPolicy(max_bytes=config.max_document_bytes))
    return functools.partial(document_from_page, page, max_bytes=config.max_document_bytes)


async def _read_upload(request: web.Request) -> tuple[str, bytes]:
    """The multipart field "file": its file name and bytes, refused (413) once over the
    size cap, before the rest is read."""
    from aiohttp import BodyPartReader

    limit = request.app[CONFIG].max_document_bytes
    too_large = ApiError(413, "file_too_large",
                         f"The file is over the limit of {limit / 2**20:g} MB.")
    length = request.content_length
    if length is not None and length > limit + 64 * 1024:
        raise too_large
    try:
        async with asyncio.timeout(UPLOAD_TIMEOUT):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise too_large
                if part.name == "file":
                    name = part.filename or "upload"
                    return name.replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload", bytes(data)
    except TimeoutError:
        raise ApiError(408, "request_timeout",
                       f"The upload did not arrive within {UPLOAD_TIMEOUT:g} s.") from None
    except (ValueError, web.RequestPayloadError, AssertionError):
        raise ApiError(400, "invalid_body", "The multipart body could not be read.") from None
    raise ApiError(422, "missing_field", "Send the file as the multipart field 'file'.")


async def healthz(request: web.Request) -> web.Response:
    """"ok", or "degraded" with the reason while answers go on without what was configured
    (Redis unreachable or refusing the password: conversations are per process then).
    Always 200 while the server answers, so a load balancer keeps sending it questions."""
    answerer = request.app[ANSWERER]
    engine = answerer.engine
    store = request.app[STORE]
    problem = await store.health()
    body: dict[str, Any] = {
        "status": "degraded" if problem else "ok",
        "documents": len(engine.documents),
        "sentences": engine.index.n_sentences,
        "generation": engine.index.generation or None,
        "worker": request.app[CONFIG].worker,
        "semantic": answerer.semantic_status,
        "telegram": request.app[CONFIG].telegram_webhook_enabled,
        "sessions": store.kind,
    }
    if problem:
        body["reason"] = problem
    return web.json_response(body, dumps=_dumps)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(),
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


_STATIC = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css",
           "doc.js": "text/javascript", "favicon.svg": "image/svg+xml"}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_PAGE_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


async def static(request: web.Request) -> web.Response:
    name = request.match_info.get("name", "index.html")
    if name not in _STATIC:
        raise web.HTTPNotFound()
    body = resources.files("quotebot.bot").joinpath("static", name).read_bytes()
    charset = None if name.endswith(".svg") else "utf-8"
    return web.Response(body=body, content_type=_STATIC[name], charset=charset,
                        headers=_PAGE_HEADERS)


async def favicon(request: web.Request) -> web.Response:
    """GET /favicon.ico: browsers ask for it whatever the page says; the SVG icon (browsers
    go by the Content-Type, not the name)."""
    body = resources.files("quotebot.bot").joinpath("static", "favicon.svg").read_bytes()
    return web.Response(body=body, content_type="image/svg+xml",
                        headers={**_PAGE_HEADERS, "Cache-Control": "max-age=86400"})


async def doc_page(request: web.Request) -> web.Response:
    """GET /docs/{doc}: a document's text as a page to read, one <p> per paragraph, each
    knowing its character offsets, so that /docs/DOC#START-END (a citation's link) shows
    text[START:END] highlighted (static/doc.js); an unknown document is a page saying so."""
    doc_id = request.match_info["doc"]
    try:
        document = request.app[ANSWERER].engine.document(doc_id)
    except UnknownDocument:
        return _page(404, "Document not found",
                     f"<h1>No such document</h1>\n<p>This server has no document called "
                     f"<code>{escape(doc_id)}</code>. Its documents are listed on the "
                     f"<a href=\"/\">chat page</a>.</p>")
    paragraphs = "\n".join(
        f'<p id="p{number}" data-start="{start}" data-end="{end}">'
        f"{escape(document.text[start:end])}</p>"
        for number, (start, end) in enumerate(paragraph_spans(document.text), start=1))
    return _page(200, document.title,
                 f"<h1>{escape(document.title)}</h1>\n"
                 f'<p class="muted">{escape(document.id)} · <a href="/">ask about it</a></p>\n'
                 f'<article id="text">\n{paragraphs}\n</article>\n'
                 f'<script src="/static/doc.js"></script>')


def _page(status: int, title: str, body: str) -> web.Response:
    """An HTML page of ours around ``body`` (already escaped), within the page CSP."""
    html = ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)} · quotebot</title>\n"
            "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n"
            "<link rel=\"stylesheet\" href=\"/static/app.css\">\n</head>\n"
            f"<body class=\"doc\">\n<main>\n{body}\n</main>\n</body>\n</html>\n")
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=_PAGE_HEADERS)


# -- Telegram webhook --------------------------------------------------------------------------


def _header_bytes(request: web.Request, name: str) -> bytes:
    """The one value of header ``name`` as sent (bytes); empty if absent or repeated."""
    wanted = name.lower().encode()
    values = [value for key, value in request.raw_headers if key.lower() == wanted]
    return values[0] if len(values) == 1 else b""


async def telegram_webhook(request: web.Request) -> web.Response:
    """POST /telegram/webhook: check the secret, acknowledge, queue the update for PTB."""
    front = request.app[TELEGRAM]
    if front is None:
        raise web.HTTPNotFound()
    secret = (request.app[CONFIG].webhook_secret or "").encode()
    # Compared as the bytes sent: a header need not be UTF-8, and must not make us fail.
    if not secret or not hmac.compare_digest(_header_bytes(request, SECRET_HEADER), secret):
        log.warning("rejected a webhook call without the right secret from %s",
                    client_address(request))
        return error_response(403, "forbidden", "Wrong or missing secret token.")
    data = await read_json_object(request)
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ApiError(422, "invalid_update", "A Telegram update needs an integer update_id.")
    # Claimed in the shared store, so that of replicas behind one Redis only one answers.
    if not await request.app[STORE].first_delivery(f"{front.bot_id}:{update_id}"):
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
        #: Update ids count per bot; two bots may share one Redis.
        self.bot_id: int = application.bot.id


# -- application ---------------------------------------------------------------------------------


async def engine_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    started = time.perf_counter()
    answerer = await asyncio.to_thread(Answerer.open, config.corpus, config.index_dir,
                                       semantic=config.semantic, embed=config.primary)
    app[ANSWERER] = answerer
    app[STORE] = make_store(config.redis_url, ttl=config.session_ttl,
                            max_bytes=config.session_memory)
    shelf = Shelf(config.data_dir, semantic=config.semantic) if config.data_dir else None
    app[SHELF] = shelf
    if shelf is not None and (config.libraries_enabled or config.web_uploads_enabled or (
            config.telegram_webhook_enabled and config.chat_libraries_enabled)):
        shelf.adds.start()  # so that the first add does not wait for the processes
    engine = answerer.engine
    log.info("loaded %d documents, %d sentences in %.2f s (reranking by meaning: %s)",
             len(engine.documents), engine.index.n_sentences, time.perf_counter() - started,
             answerer.semantic_status)
    await app[STORE].health()  # logs a warning now if Redis is configured but not usable
    yield
    answerer.close()
    if shelf is not None:
        shelf.close()
    await app[STORE].close()


async def session_libraries_context(app: web.Application) -> AsyncIterator[None]:
    """Web page sessions' libraries go with their sessions: swept now (those of sessions a
    restart forgot) and every SWEEP_EVERY seconds (those of expired sessions)."""
    config, shelf = app[CONFIG], app[SHELF]
    store = app[STORE]
    # A store in memory knows only this process's sessions: with several workers, none may
    # judge the others' libraries.
    if shelf is None or (store.kind == "memory" and config.workers > 1) or not config.primary:
        yield
        return
    every = min(SWEEP_EVERY, max(1.0, config.session_ttl / 2))

    async def sweep_forever() -> None:
        while True:
            try:
                await sweep_session_libraries(shelf, store)
            except Exception:  # a sweep that fails is tried again at the next one
                log.exception("could not remove the libraries of ended web page sessions")
            await asyncio.sleep(every)

    task = asyncio.create_task(sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def telegram_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if not config.telegram_webhook_enabled:
        app[TELEGRAM] = None
        yield
        return
    from quotebot.bot.telegram import TelegramBot, start_telegram

    bot = TelegramBot(app[ANSWERER], app[STORE], app[METRICS], config, shelf=app[SHELF])
    application = bot.build_application(webhook=True)
    # The bot checks its token with the Bot API on start; without it there is no bot.
    await start_telegram(application, config, hint=", or unset TELEGRAM_WEBHOOK_SECRET to "
                                                   "serve the HTTP API without Telegram")
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
    app[WEB_ADDS] = RateLimiter(WEB_ADDS_PER_MINUTE, burst=WEB_ADDS_BURST)
    app.cleanup_ctx.append(engine_context)
    app.cleanup_ctx.append(session_libraries_context)
    app.cleanup_ctx.append(telegram_context)
    app.router.add_post("/v1/ask", ask)
    app.router.add_get("/v1/docs", list_docs)
    app.router.add_get("/v1/docs/{doc}", show_doc)
    app.router.add_post("/v1/libraries/{name}/docs", add_library_doc)
    app.router.add_get("/v1/libraries/{name}/docs", list_library_docs)
    app.router.add_get("/v1/libraries/{name}/docs/{doc}", show_library_doc)
    app.router.add_delete("/v1/libraries/{name}/docs/{doc}", remove_library_doc)
    app.router.add_get("/v1/config", web_config)
    app.router.add_post("/v1/session/docs", add_session_doc)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", static)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/docs/{doc}", doc_page)
    app.router.add_post("/telegram/webhook", telegram_webhook)
    return app


# -- running ---------------------------------------------------------------------------------


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
    runner = _AppRunner(app, shutdown_timeout=shutdown_timeout, access_log=access_log)
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
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        print(f"======== Running on http://{host}:{port} ========")
        await stop.wait()
    finally:
        await runner.cleanup()
