"""The web chat page in a real headless Chromium: it asks and renders the answer."""

from __future__ import annotations

import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator

import pytest

from conftest import chromium, requires
from servers import Process, serve

CHROMIUM = chromium()
pytestmark = requires("chromium")


@pytest.fixture(scope="module")
def server() -> Iterator[Process]:
    with serve(env={"QUOTEBOT_SEMANTIC": "off"}) as process:
        yield process


def rendered_page(url: str) -> str:
    """The page's DOM after its scripts ran, as headless Chromium sees it."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
             "--run-all-compositor-stages-before-draw", "--dump-dom", url],
            capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_page_asks_and_shows_the_short_answer_and_the_quote(server: Process) -> None:
    dom = rendered_page(server.url + "/?q=" + urllib.parse.quote("how many stabbings?"))
    assert '<p class="short">72</p>' in dom
    assert "fatal <mark>stabbings</mark>" in dom
    assert "met-police-nypd-visit ¶9 s15, chars 2208–2351" in dom
    assert 'id="more"' in dom and 'id="more" disabled' not in dom
    assert "Reading: Met police nypd visit (18 sentences)" in dom


def test_the_page_says_when_the_article_does_not_answer(server: Process) -> None:
    dom = rendered_page(server.url + "/?q=" + urllib.parse.quote("What is the capital of France?"))
    assert "The article doesn't say." in dom
    assert "Closest passages (not an answer)" in dom


def test_html_in_a_question_is_shown_as_text_never_run(server: Process) -> None:
    attack = '<img src=x onerror="document.title=\'pwned\'">stabbings <script>x()</script>'
    dom = rendered_page(server.url + "/?q=" + urllib.parse.quote(attack))
    assert "&lt;img src=x" in dom
    assert "<img src" not in dom
    assert "<title>quotebot</title>" in dom
