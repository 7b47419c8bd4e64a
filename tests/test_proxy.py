"""quotebot behind a real Caddy running deploy/Caddyfile: the chat page works through it in
a real Chromium, and every client keeps its own rate limit while forged headers do not help."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import chromium_page
from conftest import ROOT, requires
from fake_bot_api import free_port
from servers import Process, serve, stop

CADDY = shutil.which("caddy")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, requires("caddy")]


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

            # Follow-ups go through the id the server issued. (By words alone, "Who is the
            # deputy mayor for policing?" finds Sophie Linden with a probability of only about
            # 0.5, too unsure to tell the conversation who "she" is; this question's answer
            # is surer.)
            await page.ask("Who met senior NYPD officials?")
            said = await page.ask("What did she say?")
            assert "Ms Linden said" in said
            # "More" continues that follow-up only with passages that still answer it; what
            # she said was all shown: nothing is repeated, and the page says so.
            more = await page.click_more()
            assert "Ms Linden said" not in more
            assert "There are no more passages about this." in more
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
