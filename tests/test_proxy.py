"""quotebot behind a real Caddy running deploy/Caddyfile: the chat page works through it in
a real Chromium, and every client keeps its own rate limit while forged headers do not help."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from conftest import ROOT, requires
from fake_bot_api import free_port
from servers import Process, serve, stop

CADDY = shutil.which("caddy")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = requires("caddy")


@contextlib.contextmanager
def caddy(upstream: Process) -> Iterator[str]:
    """deploy/Caddyfile in a real Caddy on a free port (plain HTTP, no admin endpoint) in front
    of ``upstream``; its URL."""
    assert CADDY is not None
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="caddy-"))
    config = workdir / "Caddyfile"
    # Only what a test needs on top of the shipped file: no admin port, no certificates.
    config.write_text("{\n\tadmin off\n\tauto_https off\n}\n"
                      f"import {ROOT / 'deploy' / 'Caddyfile'}\n", encoding="utf-8")
    env = dict(os.environ, HOME=str(workdir), XDG_DATA_HOME=str(workdir / "data"),
               XDG_CONFIG_HOME=str(workdir / "config"),
               QUOTEBOT_SITE=f"http://127.0.0.1:{port}",
               QUOTEBOT_UPSTREAM=f"127.0.0.1:{upstream.port}")
    log = (workdir / "caddy.log").open("w")
    proc = subprocess.Popen([CADDY, "run", "--config", str(config), "--adapter", "caddyfile"],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError("caddy exited: " + (workdir / "caddy.log").read_text())
            with contextlib.suppress(urllib.error.URLError, OSError), \
                    urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("caddy did not forward /healthz within 20 s")
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


# -- a real Chromium, driven over the DevTools protocol ----------------------------------------
# (--dump-dom, as in test_webchat.py, sees one page load; a conversation needs a tab that stays
# open between questions.)
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
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
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
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-proxy-server", f"--user-data-dir={profile}",
             f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
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
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def ask_from(source: str, port: int, headers: dict[str, str] | None = None) -> int:
    """POST a question to 127.0.0.1:``port`` from the loopback address ``source``; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                            source_address=(source, 0))
    try:
        connection.request("POST", "/v1/ask", body=json.dumps({"question": "stabbings"}),
                           headers={"Content-Type": "application/json", **(headers or {})})
        return connection.getresponse().status
    finally:
        connection.close()


def test_through_caddy_each_client_has_its_own_bucket_and_forging_the_header_does_not_help(
        ) -> None:
    # 6 a minute is a burst of one: a second question from the same client is refused.
    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_RATE_LIMIT_IP": "6",
           "QUOTEBOT_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with serve(env=env) as server, caddy(server) as url:
        proxy_port = int(url.rsplit(":", 1)[1])
        # Two clients (two loopback addresses) through Caddy, which connects from 127.0.0.1.
        assert ask_from("127.0.0.2", proxy_port) == 200
        assert ask_from("127.0.0.3", proxy_port) == 200
        assert ask_from("127.0.0.2", proxy_port) == 429
        # A client cannot pose as someone else through Caddy: it replaces the header.
        assert ask_from("127.0.0.3", proxy_port, {"X-Forwarded-For": "198.51.100.1"}) == 429
        # Nor straight to quotebot: its X-Forwarded-For is ignored, its address counts.
        direct = [ask_from("127.0.0.4", server.port, {"X-Forwarded-For": f"198.51.100.{n}"})
                  for n in range(2, 5)]
        assert direct == [200, 429, 429]


def test_without_forwarded_allow_ips_everyone_behind_caddy_is_one_client() -> None:
    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_RATE_LIMIT_IP": "6"}
    with serve(env=env) as server, caddy(server) as url:
        proxy_port = int(url.rsplit(":", 1)[1])
        assert [ask_from(source, proxy_port) for source in ("127.0.0.2", "127.0.0.3")] == [
            200, 429]


@requires("chromium")
async def test_the_chat_page_works_through_caddy_in_chromium() -> None:
    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with serve(env=env) as server, caddy(server) as url:
        async with chromium_page() as page:
            await page.goto(url + "/")
            # The script, the style sheet and /v1/docs all came through the proxy.
            assert "Met police nypd visit" in await page.wait_for(
                "document.getElementById('sources').textContent")
            assert await page.evaluate("[...document.styleSheets].some(s => s.cssRules.length)")

            first = await page.ask("how many stabbings?")
            assert "72" in first and "72 fatal stabbings" in first
            session = await page.evaluate("sessionStorage.getItem('quotebot-session')")
            assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", session)

            # Follow-ups go through the id the server issued.
            await page.ask("Who is the deputy mayor for policing?")
            said = await page.ask("What did she say?")
            assert "Ms Linden said" in said
            # "More" continues that follow-up: the next of what she said, nothing shown before.
            more = await page.click_more()
            assert "Cressida Dick" in more and "Ms Linden said" not in more
            assert await page.evaluate("sessionStorage.getItem('quotebot-session')") == session

            # An id the server does not know (expired, or never issued): the page starts a
            # new conversation by itself instead of showing an error.
            await page.evaluate("sessionStorage.setItem('quotebot-session', 'alice'); "
                                "location.reload(); true")
            await page.wait_for("document.readyState === 'complete' && "
                                "!!document.getElementById('log') && "
                                "document.querySelectorAll('#log .turn').length === 0")
            again = await page.ask("how many stabbings?")
            assert "72" in again and "error" not in again.lower()
            renewed = await page.evaluate("sessionStorage.getItem('quotebot-session')")
            assert renewed not in ("alice", session)
            assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", renewed)
