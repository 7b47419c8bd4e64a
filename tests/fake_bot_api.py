"""A local stand-in for the Telegram Bot API: an aiohttp server that records what the bot
sends and hands it updates through getUpdates (long polling) or not at all (webhook), and
serves the files users send (getFile, then a download from /file/bot<token>/<file_path>).

``reject=401`` (or 404) answers every call as Telegram answers a wrong token;
``silent=True`` accepts every call and never answers it, as an overloaded server does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import threading
import time
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

BOT_ID = 4242
BOT_USERNAME = "quote_test_bot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeBotApi:
    """Runs in its own thread and event loop, so tests of any kind can use it."""

    def __init__(self, token: str = "123456:TEST-token-abcdefghij", *, reject: int | None = None,
                 silent: bool = False) -> None:
        self.token = token
        self.reject = reject
        self.silent = silent
        self.commands: list[dict[str, Any]] | None = None
        self._chat_types: dict[int, str] = {}
        self.port = free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        #: sendMessage calls Telegram would refuse, with why.
        self.rejected: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.webhook: dict[str, Any] | None = None
        #: file_id → (file_path, bytes) of the files users sent.
        self.files: dict[str, tuple[str, bytes]] = {}
        #: file_path of every file downloaded.
        self.downloads: list[str] = []
        #: file_id → (the size getFile claims, the bytes of zeros actually served) of files
        #: that lie about their size; and file_path → bytes written of each such download.
        self.lying: dict[str, tuple[int, int]] = {}
        self.served: dict[str, int] = {}
        self._file_ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeBotApi:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Bot API did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    # -- what tests do ----------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._lock:
            update = dict(update)
            update.setdefault("update_id", next(self._update_ids))
            self._updates.append(update)
            return int(update["update_id"])

    def message_update(self, chat_id: int, text: str | None = None, *,
                       chat_type: str = "private", update_id: int | None = None,
                       user_id: int | None = None, thread_id: int | None = None,
                       **extra: Any) -> dict[str, Any]:
        """A Telegram update with a message from a user in ``chat_id``, with the entities
        Telegram would find in ``text`` (commands, @mentions, e-mail addresses), in forum
        topic ``thread_id`` if given."""
        with self._lock:
            self._chat_types[chat_id] = chat_type
        user = user_id if user_id is not None else (chat_id if chat_id > 0 else 777)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type,
                     **({"is_forum": True} if thread_id is not None else {})},
            "from": {"id": user, "is_bot": False, "first_name": "U"},
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if text is not None:
            message["text"] = text
            entities = text_entities(text)
            if entities:
                message["entities"] = entities
        message.update(extra)
        update: dict[str, Any] = {"message": message}
        update["update_id"] = update_id if update_id is not None else next(self._update_ids)
        return update

    def callback_update(self, chat_id: int, data: str, *, message_id: int = 1,
                        user_id: int | None = None, chat_type: str = "private",
                        thread_id: int | None = None) -> dict[str, Any]:
        """A press of a button with ``data`` under the bot's message ``message_id``."""
        user = user_id if user_id is not None else (chat_id if chat_id > 0 else 777)
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()),
                                   "chat": {"id": chat_id, "type": chat_type},
                                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quote"}}
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return {"update_id": next(self._update_ids),
                "callback_query": {"id": f"cb{next(self._update_ids)}", "chat_instance": "ci",
                                   "data": data, "message": message,
                                   "from": {"id": user, "is_bot": False, "first_name": "U"}}}

    def document(self, content: bytes, file_name: str, *, mime_type: str = "",
                 file_size: int | None = None) -> dict[str, Any]:
        """A document a user sends (for ``message_update(…, document=…)``); its bytes are
        served through getFile. ``file_size`` is what Telegram says it is (default: true)."""
        with self._lock:
            n = next(self._file_ids)
            file_id = f"doc-{n}"
            self.files[file_id] = (f"documents/file_{n}{_suffix(file_name)}", content)
        document: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{n}",
                                    "file_name": file_name,
                                    "file_size": len(content) if file_size is None else file_size}
        if mime_type:
            document["mime_type"] = mime_type
        return document

    def lying_document(self, file_name: str, claimed: int, served: int) -> dict[str, Any]:
        """A document whose message and getFile both say it has ``claimed`` bytes, while the
        download streams ``served`` bytes (of text) until the reader stops reading."""
        document = self.document(b"", file_name, file_size=claimed)
        with self._lock:
            self.lying[document["file_id"]] = (claimed, served)
        return document

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if int(m.get("chat_id", 0)) == chat_id]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        return False

    # -- the Bot API ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if self.silent or self.reject is not None:
            with self._lock:
                self.calls.append((request.match_info["method"], {}))
        if self.silent:
            assert self._stop is not None
            await self._stop.wait()
            return web.json_response({"ok": False, "error_code": 503,
                                      "description": "Service Unavailable"}, status=503)
        if self.reject is not None:
            description = "Unauthorized" if self.reject == 401 else "Not Found"
            return web.json_response({"ok": False, "error_code": self.reject,
                                      "description": description}, status=self.reject)
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        with self._lock:
            self.calls.append((method, params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": True, "result": True})
        try:
            result = await handler(params)
        except BadRequest as exc:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": f"Bad Request: {exc}"}, status=400)
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = value if isinstance(value, str) else str(value)
            try:
                params[key] = json.loads(text)
            except ValueError:
                params[key] = text
        return params

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Quote", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                batch = self._updates[:100]
            if batch or time.monotonic() >= deadline:
                return batch
            await asyncio.sleep(0.02)

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        problem = message_problem(str(params.get("text", "")), params.get("parse_mode"))
        if problem is not None:
            with self._lock:
                self.rejected.append(dict(params, problem=problem))
            raise BadRequest(problem)
        message_id = next(self._message_ids)
        with self._lock:
            self.sent.append(dict(params, message_id=message_id, sent_at=time.monotonic()))
        chat_id = int(params["chat_id"])
        return {"message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": self._chat_types.get(chat_id, "private")},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quote"},
                "text": str(params.get("text", ""))}

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = params
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = None
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.commands = list(params.get("commands") or [])
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            found = self.files.get(file_id)
        if found is None:
            raise BadRequest("invalid file_id")
        path, content = found
        size = self.lying[file_id][0] if file_id in self.lying else len(content)
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size,
                "file_path": path}

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        with self._lock:
            content = next((c for p, c in self.files.values() if p == path), None)
            self.downloads.append(path)
        if content is None:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        with self._lock:
            lie = next((self.lying[i] for i, (p, _) in self.files.items()
                        if p == path and i in self.lying), None)
        if lie is None:
            return web.Response(body=content, content_type="application/octet-stream")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.content_length = lie[1]
        await response.prepare(request)
        chunk = b"All work and no play makes a dull day. " * 1640  # 64 KB of text
        written = 0
        with contextlib.suppress(ConnectionError, RuntimeError):
            while written < lie[1]:
                piece = chunk[:lie[1] - written]
                await response.write(piece)
                written += len(piece)
                with self._lock:
                    self.served[path] = written
            await response.write_eof()
        return response


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


class BadRequest(Exception):
    """What Telegram answers with 400."""


#: The tags Telegram's HTML parse mode knows.
TELEGRAM_TAGS = frozenset("b strong i em u ins s strike del span tg-spoiler a code pre "
                          "blockquote tg-emoji".split())
MESSAGE_LIMIT = 4096


class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problem = self.problem or f"can't parse entities: unsupported start tag {tag!r}"
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problem = self.problem or f"can't parse entities: can't find end tag for {tag!r}"
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def message_problem(text: str, parse_mode: Any) -> str | None:
    """Why Telegram would refuse to send ``text`` (None if it would send it): empty, over
    4,096 UTF-16 units once parsed, malformed HTML, or holding control characters."""
    shown = text
    if parse_mode == "HTML":
        if re.search(r"&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)", text):
            return "can't parse entities: unescaped &"
        parser = _TelegramHtml()
        parser.feed(text)
        parser.close()
        if parser.problem or parser.open:
            return parser.problem or f"can't parse entities: unclosed {parser.open[-1]!r}"
        shown = "".join(parser.text)
    if not shown.strip():
        return "message text is empty"
    if utf16_length(shown) > MESSAGE_LIMIT:
        return "message is too long"
    if re.search(r"[\x00-\x08\x0b-\x1f]", text):
        return "can't parse entities: control character"
    return None


_MENTION = re.compile(r"(?<![\w@.])@(?P<name>[A-Za-z0-9_]{5,32})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram's clients mark in ``text``: a leading bot command, @mentions
    and e-mail addresses (an address is not a mention), offsets in UTF-16 units."""
    found: list[tuple[int, int, str]] = []
    command = _COMMAND.match(text)
    if command:
        found.append((command.start(), command.end(), "bot_command"))
    emails = [(m.start(), m.end()) for m in _EMAIL.finditer(text)]
    for start, end in emails:
        found.append((start, end, "email"))
    for m in _MENTION.finditer(text):
        if not any(a <= m.start() < b for a, b in emails) and not (command and
                                                                  m.start() < command.end()):
            found.append((m.start(), m.end(), "mention"))
    return [{"type": kind, "offset": utf16_length(text[:start]),
             "length": utf16_length(text[start:end])} for start, end, kind in sorted(found)]
