"""What the HTTP rooms share: the application's keys, the one error shape, and reading
JSON requests and their fields.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import web

from .answerer import Answerer
from .config import BotConfig
from .libraries import Shelf
from .metrics import Metrics
from .ratelimit import RateLimiter
from .sessions import SessionStore

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
#: Seconds an upload may take to arrive.
UPLOAD_TIMEOUT = 60.0
#: Random bytes in a session id (secrets.token_urlsafe: 24 characters, 144 bits).
SESSION_BYTES = 18
SESSION_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
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
        # Not asyncio.wait_for: on Python 3.11 it swallows the cancelling of a handler whose
        # client hung up (see quotebot.bot.server) when the body has just arrived.
        async with asyncio.timeout(wait):
            if limit <= config.max_body:
                body = await request.read()
            else:
                body = await _read_limited(request, limit)
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


def json_field(data: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
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
    return {str: "a string", int: "an integer", bool: "true or false"}.get(kind, kind.__name__)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def dumps_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def header_bytes(request: web.Request, name: str) -> bytes:
    """The one value of header ``name`` as sent (bytes); empty if absent or repeated."""
    wanted = name.lower().encode()
    values = [value for key, value in request.raw_headers if key.lower() == wanted]
    return values[0] if len(values) == 1 else b""


def unknown_session(config: BotConfig) -> ApiError:
    hours = config.session_ttl / 3600
    return ApiError(404, "unknown_session",
                    f"No conversation has that 'session' id: this server did not issue it, or "
                    f"it expired ({hours:g} h after its last question). Ask without 'session' "
                    f"to start a new conversation; the answer carries its id.")


class TelegramWebhook:
    """The PTB Application running inside our server, fed by the webhook endpoint."""

    def __init__(self, application: Any) -> None:
        self.application = application
        #: Update ids count per bot; two bots may share one Redis.
        self.bot_id: int = application.bot.id
        #: Updates being claimed and queued, held here until they are (the server waits for
        #: them before it stops the bot).
        self.claims: set[asyncio.Task[Any]] = set()
