"""A local stand-in for the Telegram Bot API: an aiohttp server that records what the bot
sends and hands it updates through getUpdates (long polling) or not at all (webhook)."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
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

    def __init__(self, token: str = "123456:TEST-token-abcdefghij") -> None:
        self.token = token
        self.port = free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.webhook: dict[str, Any] | None = None

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
                       **extra: Any) -> dict[str, Any]:
        """A Telegram update with a message from a user in ``chat_id``."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": chat_id if chat_id > 0 else 777, "is_bot": False, "first_name": "U"},
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": len(text.split()[0])}]
        message.update(extra)
        update: dict[str, Any] = {"message": message}
        update["update_id"] = update_id if update_id is not None else next(self._update_ids)
        return update

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
        result = await handler(params)
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
        message_id = next(self._message_ids)
        with self._lock:
            self.sent.append(dict(params, message_id=message_id))
        return {"message_id": message_id, "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
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

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True
