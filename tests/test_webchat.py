"""The web chat page in a real headless Chromium: it asks and renders the answer."""

from __future__ import annotations

import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import chromium, requires
from pages import PageSite, page_site
from servers import Process, serve

CHROMIUM = chromium()
pytestmark = requires("chromium")


@pytest.fixture(scope="module")
def server() -> Iterator[Process]:
    with serve(env={"QUOTEBOT_SEMANTIC": "off"}) as process:
        yield process


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    with page_site() as pages:
        yield pages


@pytest.fixture(scope="module")
def uploads_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    data_dir = tmp_path_factory.mktemp("data")
    with serve(env={"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_WEB_UPLOADS": "1",
                    "QUOTEBOT_DATA_DIR": str(data_dir),
                    "QUOTEBOT_ALLOW_PRIVATE_URLS": "1"}) as process:
        process.extra["data_dir"] = data_dir
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


def test_a_pasted_link_is_read_and_then_answered_from(uploads_server: Process,
                                                      site: PageSite) -> None:
    query = urllib.parse.urlencode({"add": site.url("/news/sea-wall"),
                                    "q": "Who is the harbour master?"})
    dom = rendered_page(uploads_server.url + "/?" + query)
    assert '<form id="add">' in dom
    assert ("Added Kelsey Bay votes to rebuild its sea wall after winter storms "
            "(11 sentences).") in dom
    assert '<p class="short">Tom Okafor</p>' in dom
    assert "kelsey-bay-votes-to-rebuild-its-sea-wall-after-winter-storms ¶" in dom
    assert "Kelsey Bay votes to rebuild its sea wall after winter storms (11 sentences)" in dom
    # The link went to this page's own library, under a name that does not show its session.
    data_dir: Path = uploads_server.extra["data_dir"]
    assert [p.name[:4] for p in data_dir.iterdir()] == ["web-"]


def test_a_link_that_cannot_be_read_is_said_so_on_the_page(uploads_server: Process,
                                                           site: PageSite) -> None:
    query = urllib.parse.urlencode({"add": site.url("/missing")})
    dom = rendered_page(uploads_server.url + "/?" + query)
    assert '<p id="added" class="error" aria-live="polite">' in dom
    assert "404 Not Found" in dom


def test_without_uploads_the_page_offers_no_link_field(server: Process) -> None:
    dom = rendered_page(server.url + "/?add=" + urllib.parse.quote("https://example.org/"))
    assert '<form id="add" hidden="">' in dom
    assert "Added" not in dom
