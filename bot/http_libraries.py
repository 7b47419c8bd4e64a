"""Libraries and uploads: ``/v1/libraries/{name}/docs`` (with the API key), the web page's
``POST /v1/session/docs``, and the sweep that removes ended web page sessions' libraries.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from quotebot.errors import QuotebotError, UnknownDocument
from quotebot.models import document_json
from quotebot.session import SessionState

from .answerer import Busy
from .http_common import (
    ANSWERER,
    CONFIG,
    SESSION_BYTES,
    SESSION_ID,
    SHELF,
    STORE,
    UPLOAD_TIMEOUT,
    WEB_ADDS,
    ApiError,
    dumps_json,
    header_bytes,
    json_field,
    read_json_object,
    unknown_session,
)
from .http_proxies import client_address, rate_limited
from .libraries import (
    Shelf,
    check_name,
    keep_session_library,
    session_library,
    sweep_session_libraries,
    text_document,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Seconds between sweeps for the libraries of ended web page sessions (at most).
SWEEP_EVERY = 60.0


def authorize(request: web.Request) -> None:
    """Let the request through when it carries the API key; ApiError 403 when libraries are
    off, 401 (with ``WWW-Authenticate``) when the key is missing or wrong."""
    config = request.app[CONFIG]
    if not config.libraries_enabled or request.app[SHELF] is None:
        raise ApiError(403, "libraries_disabled",
                       "Libraries are off on this server. Its operator enables them by "
                       "setting QUOTEBOT_API_KEY (at least 16 characters); clients then send "
                       "'Authorization: Bearer KEY'.")
    assert config.api_key is not None
    scheme, _, given = header_bytes(request, "Authorization").strip().partition(b" ")
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
    assert shelf is not None  # authorize or the caller checked
    return shelf


async def finished_once_started(change: Callable[..., Awaitable[T]]) -> T:
    """``change(started=event)``: an add or a removal, waited for to its end once it has
    left the queue for its adding process, even if the client hangs up meanwhile (the
    server then cancels the handler). The library does change, so the request is logged
    with the status it ended with, not as abandoned. One still waiting for its turn is
    dropped with the handler."""
    started = asyncio.Event()
    task = asyncio.ensure_future(change(started=started))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not started.is_set():
            task.cancel()
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        log.info("the client left while its document was being added or removed; the "
                 "change goes on to its end")
        return await asyncio.shield(task)


def unknown_library(name: str) -> ApiError:
    return ApiError(404, "unknown_library",
                    f"There is no library {name!r} (or it has no documents): add one with "
                    f"POST /v1/libraries/{name}/docs.")


async def add_library_doc(request: web.Request) -> web.Response:
    """POST /v1/libraries/{name}/docs: {"url"}, {"text", "title"?, "url"?} or a multipart
    file (field "file") → 201 {"doc", "title", "url"?, "sentences"}."""
    authorize(request)
    name = check_name(request.match_info["name"])
    config = request.app[CONFIG]
    extract = await _document_from_request(request)
    shelf = _shelf(request)
    added, _ = await finished_once_started(functools.partial(
        shelf.add, name, extract, config.library_limits("api")))
    return web.json_response(added.to_json(), status=201, dumps=dumps_json)


async def list_library_docs(request: web.Request) -> web.Response:
    """GET /v1/libraries/{name}/docs → {"library", "documents": [{"doc", "title", "url"?,
    "sentences"}]}."""
    authorize(request)
    name = check_name(request.match_info["name"])
    docs = await _shelf(request).documents(name)
    if docs is None:
        raise unknown_library(name)
    return web.json_response({"library": name, "documents": [
        document_json(d.id, d.title, d.url, sentences=d.sentences) for d in docs
    ]}, dumps=dumps_json)


async def show_library_doc(request: web.Request) -> web.Response:
    """GET /v1/libraries/{name}/docs/{doc} → {"doc", "title", "url"?, "text"}."""
    authorize(request)
    name = check_name(request.match_info["name"])
    shelf = _shelf(request)

    def read() -> Any:
        engine = shelf.engine(name)
        if engine is None:
            raise unknown_library(name)
        return engine.document(request.match_info["doc"])

    try:
        document = await request.app[ANSWERER].run(read)
    except UnknownDocument:
        raise _unknown_library_doc(name, request.match_info["doc"]) from None
    return web.json_response(document_json(document.id, document.title, document.url,
                                           text=document.text), dumps=dumps_json)


def _unknown_library_doc(name: str, doc: str) -> ApiError:
    shown = doc if len(doc) <= 70 else doc[:70] + "…"
    return ApiError(404, "unknown_document",
                    f"No document {shown!r} in library {name!r}; GET /v1/libraries/{name}/docs "
                    f"lists its documents.")


async def remove_library_doc(request: web.Request) -> web.Response:
    """DELETE /v1/libraries/{name}/docs/{doc} → {"doc", "title", "url"?, "removed": true}."""
    authorize(request)
    name = check_name(request.match_info["name"])
    try:
        (gone,) = await finished_once_started(functools.partial(
            _shelf(request).remove, name, [request.match_info["doc"]]))
    except QuotebotError as exc:
        if exc.code == UnknownDocument.code:
            raise _unknown_library_doc(name, request.match_info["doc"]) from None
        raise
    return web.json_response(document_json(gone.id, gone.title, gone.url, removed=True),
                             dumps=dumps_json)


async def suggested_questions(app: web.Application, library: str | None = None) -> list[str]:
    """Two questions the documents answer, for the web page's question box: those of
    ``library`` (the server's corpus when it is None or empty); none while the server is too
    busy to make them (the page still asks; its box says only "Ask a question…")."""
    from quotebot.suggest import examples_for

    answerer, shelf = app[ANSWERER], app[SHELF]

    def made() -> list[str]:
        engine = shelf.engine(library) if shelf is not None and library is not None else None
        return examples_for(engine or answerer.engine, 2)

    try:
        return await answerer.run(made)
    except Busy:
        return []


async def web_config(request: web.Request) -> web.Response:
    """GET /v1/config: what the web page may offer: adding links (and how many), and
    questions the server's documents answer (``examples``)."""
    config = request.app[CONFIG]
    uploads = config.web_uploads_enabled and request.app[SHELF] is not None
    return web.json_response({"uploads": uploads,
                              "max_documents": config.web_max_docs if uploads else 0,
                              "examples": await suggested_questions(request.app)},
                             dumps=dumps_json)


async def add_session_doc(request: web.Request) -> web.Response:
    """POST /v1/session/docs: {"url", "session"?} → 201 {"doc", "title", "url",
    "sentences", "session", "examples"}: the web page adds a link to its session's own library (with
    ``--web-uploads``); the session's questions are answered from it first."""
    app = request.app
    config = app[CONFIG]
    if not config.web_uploads_enabled or app[SHELF] is None:
        raise ApiError(403, "uploads_disabled",
                       "This server does not let the web page add links; its operator can "
                       "enable it with QUOTEBOT_WEB_UPLOADS=1.")
    refused = await rate_limited(request, "add", app[WEB_ADDS], "links added")
    if refused is not None:
        return refused
    data = await read_json_object(request)
    url = json_field(data, "url", str, required=True)
    session = json_field(data, "session", str)
    store = app[STORE]
    if session is None:
        session = secrets.token_urlsafe(SESSION_BYTES)
        await store.put(f"http:{session}", SessionState())
    elif not SESSION_ID.fullmatch(session) or await store.find(f"http:{session}") is None:
        raise unknown_session(config)
    shelf = _shelf(request)
    name = session_library(session)
    # Both checked before the add: adds under way in other processes may pass them by the
    # size of one library each.
    if (not (shelf.root / name).exists()
            and len(shelf.session_libraries(saved=True)) >= config.web_max_libraries) or (
            config.web_max_total_bytes
            and await asyncio.to_thread(shelf.session_libraries_bytes)
            >= config.web_max_total_bytes):
        raise ApiError(503, "web_libraries_full",
                       "The web page's own articles are full at the moment; please try again "
                       "later, or ask about the articles this server reads.",
                       headers={"Retry-After": "60"})
    # Before adding: a sweep never takes it meanwhile.
    await keep_session_library(shelf, store, name)
    extract = await _document_from_link(request, url, config.text_limit("web"))
    added, _ = await finished_once_started(functools.partial(
        shelf.add, name, extract, config.library_limits("web")))
    return web.json_response({**added.to_json(), "session": session,
                              "examples": await suggested_questions(app, name)}, status=201,
                             dumps=dumps_json)


async def _own_session(request: web.Request) -> str:
    """The web page session named by ``?session=`` (one the server issued and that has not
    expired) whose own library a request reads or changes; ApiError otherwise."""
    app = request.app
    if not app[CONFIG].web_uploads_enabled or app[SHELF] is None:
        raise ApiError(403, "uploads_disabled",
                       "This server does not let the web page add links; its operator can "
                       "enable it with QUOTEBOT_WEB_UPLOADS=1.")
    session = request.query.get("session", "")
    if not SESSION_ID.fullmatch(session) or await app[STORE].find(f"http:{session}") is None:
        raise unknown_session(app[CONFIG])
    return session


async def list_session_docs(request: web.Request) -> web.Response:
    """GET /v1/session/docs?session=ID → {"documents": [{"doc", "title", "url"?,
    "sentences"}]}: what the web page session added (none yet: an empty list)."""
    session = await _own_session(request)
    docs = await _shelf(request).documents(session_library(session)) or []
    return web.json_response({"documents": [
        document_json(d.id, d.title, d.url, sentences=d.sentences) for d in docs
    ]}, dumps=dumps_json)


async def remove_session_doc(request: web.Request) -> web.Response:
    """DELETE /v1/session/docs/{doc}?session=ID → {"doc", "title", "url"?, "removed": true}:
    the web page session's questions are no longer answered from that document."""
    session = await _own_session(request)
    name, doc = session_library(session), request.match_info["doc"]
    unknown = ApiError(404, "unknown_document",
                       f"This conversation added no document {doc[:70]!r}; GET "
                       f"/v1/session/docs lists those it added.")
    if not _shelf(request).library(name).exists():
        raise unknown
    try:
        (gone,) = await finished_once_started(functools.partial(
            _shelf(request).remove, name, [doc]))
    except QuotebotError as exc:
        if exc.code == UnknownDocument.code:
            raise unknown from None
        raise
    return web.json_response(document_json(gone.id, gone.title, gone.url, removed=True),
                             dumps=dumps_json)


Extraction = Callable[[], Any]


async def _document_from_request(request: web.Request) -> Extraction:
    """The document a request brings (a link to fetch, a text, or an uploaded file), as its
    extraction, to run in the library's turn of the adding processes."""
    from quotebot.ingest import extract_bytes

    config = request.app[CONFIG]
    if request.content_type == "multipart/form-data":
        name, upload = await _read_upload(request)
        return functools.partial(extract_bytes, upload, name=name,
                                 max_bytes=config.text_limit("api"))
    data = await read_json_object(request, max_body=config.max_document_bytes + 64 * 1024,
                                  timeout=UPLOAD_TIMEOUT)
    url = json_field(data, "url", str)
    text = json_field(data, "text", str)
    if (url is None) == (text is None):
        raise ApiError(422, "missing_field",
                       "Send {\"url\": \"https://…\"} to add a page, or {\"text\": \"…\", "
                       "\"title\": \"…\"} to add a text, or the file as multipart field "
                       "'file'.")
    if text is None:
        return await _document_from_link(request, url, config.text_limit("api"))
    title = json_field(data, "title", str)
    if not text.strip():
        raise ApiError(422, "invalid_field", "The field 'text' is empty.")
    return functools.partial(text_document, text, title, url)


async def _document_from_link(request: web.Request, url: str, text_limit: int
                              ) -> Extraction:
    """Fetch ``url`` without blocking (only http(s), public addresses unless allowed); its
    extraction, which reads at most ``text_limit`` bytes of text."""
    from quotebot.ingest import FetchPolicy, document_from_page, fetch_url_async, is_url

    if not is_url(url):
        raise ApiError(422, "invalid_field",
                       "The field 'url' must be an http:// or https:// link.")
    config = request.app[CONFIG]
    page = await fetch_url_async(url, policy=FetchPolicy(max_bytes=config.max_document_bytes))
    return functools.partial(document_from_page, page, max_bytes=text_limit)


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


async def session_libraries_context(app: web.Application) -> AsyncIterator[None]:
    """Web page sessions' libraries go with their sessions: swept now (those of sessions a
    restart forgot) and every SWEEP_EVERY seconds (those of expired sessions), by worker 0.

    A store in memory knows only its own process's sessions: with several workers and no
    Redis, a library goes once its session could no longer be alive anywhere, untouched for
    the sessions' lifetime (so after a restart the libraries of forgotten sessions stay
    until then, instead of at once)."""
    config, shelf = app[CONFIG], app[SHELF]
    store = app[STORE]
    if shelf is None or not config.primary:
        yield
        return
    idle = config.session_ttl if store.kind == "memory" and config.workers > 1 else None
    every = min(SWEEP_EVERY, max(1.0, config.session_ttl / 2))

    async def sweep_forever() -> None:
        while True:
            try:
                await sweep_session_libraries(shelf, store, idle=idle)
            except Exception:  # a sweep that fails is tried again at the next one
                log.exception("could not remove the libraries of ended web page sessions")
            await asyncio.sleep(every)

    task = asyncio.create_task(sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
