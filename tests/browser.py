"""A real headless Chromium driven over the DevTools protocol: one tab that stays open, so
that a test can type, click and follow links as a reader does (--dump-dom sees one page load
only)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from conftest import chromium
from fake_bot_api import free_port

CHROMIUM = chromium()
#: What DevTools says when an expression meets a page that is being replaced.
_NAVIGATING = ("navigated or closed", "Cannot find context", "Execution context was destroyed")


class Page:
    """One browser tab."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads((await self.ws.receive()).data)
                if message.get("id") == call_id:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return dict(message.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def goto(self, url: str, timeout: float = 30) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete' && location.href !== "
                            "'about:blank'", timeout)

    async def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll ``expression`` until it is truthy; its value. Polling goes on while the tab
        navigates (the page it asked has gone, the next one has no context yet)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = await self.evaluate(expression)
            except RuntimeError as exc:
                if not any(words in str(exc) for words in _NAVIGATING):
                    raise
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} stayed falsy for {timeout} s")
            await asyncio.sleep(0.05)

    async def ask(self, question: str, timeout: float = 30) -> str:
        """Type ``question`` into the chat form, send it, and return the new turn's text."""
        turns = await self.evaluate("document.querySelectorAll('#log .turn').length")
        await self.evaluate(f"document.getElementById('question').value = "
                            f"{json.dumps(question)}; "
                            f"document.getElementById('ask').requestSubmit(); true")
        return str(await self.wait_for(self._turn_text(turns), timeout))

    async def click_more(self, timeout: float = 30) -> str:
        turns = await self.evaluate("document.querySelectorAll('#log .turn').length")
        await self.evaluate("document.getElementById('more').click(); true")
        return str(await self.wait_for(self._turn_text(turns), timeout))

    @staticmethod
    def _turn_text(index: int) -> str:
        # A turn is done when something follows its question: an answer, a reason, an error.
        return (f"(() => {{ const t = document.querySelectorAll('#log .turn')[{index}]; "
                f"return t && t.children.length > 1 ? t.innerText : ''; }})()")


@contextlib.asynccontextmanager
async def chromium_page(timeout: float = 30) -> AsyncIterator[Page]:
    """A headless Chromium with one blank tab; closed afterwards."""
    assert CHROMIUM is not None, "needs Debian's chromium"
    port = free_port()
    # Chromium's helper processes may write into the profile for a moment after the browser
    # exits: they are stopped with it (one process group), and a file they leave behind
    # does not fail the test that used the page.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-proxy-server", f"--user-data-dir={profile}",
             f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True)
        try:
            async with aiohttp.ClientSession() as http:
                deadline = time.monotonic() + timeout
                targets: list[dict[str, Any]] = []
                while not targets:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("Chromium did not open its debugging port")
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                            targets = [t for t in await response.json() if t["type"] == "page"]
                    await asyncio.sleep(0.1)
                async with http.ws_connect(targets[0]["webSocketDebuggerUrl"],
                                           max_msg_size=0) as ws:
                    page = Page(ws)
                    await page.call("Page.enable")
                    await page.call("Runtime.enable")
                    yield page
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
