"""The web chat page in a real headless Chromium: it asks and renders the answer."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from browser import Page, chromium_page
from conftest import chromium, requires
from pages import PageSite, page_site
from servers import Process, serve

CHROMIUM = chromium()
pytestmark = [pytest.mark.slow, requires("chromium")]


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
    dom = rendered_page(server.url + "/?q=" + urllib.parse.quote("how many offences?"))
    # It names the one article it reads, and suggests no question of an article it may lack.
    assert ('<p id="intro">Ask about “Met police nypd visit”; every answer is a quote from '
            "it, with where it comes from.</p>") in dom
    assert "offences?\" autofocus" not in dom
    assert '<p class="short">15,000</p>' in dom
    assert " <mark>offences</mark> during" in dom
    assert ('<a class="cite" href="/docs/met-police-nypd-visit#2352-2460">'
            "Met police nypd visit ¶ 9</a>") in dom
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


async def press_add(page: Page) -> str:
    """Press the Add button and wait for the line that says what came of it."""
    await page.evaluate("document.getElementById('add-link').click(); true")
    return str(await page.wait_for(
        "(() => { const p = document.getElementById('added'); "
        "return p.textContent.startsWith('Reading') || p.textContent.startsWith('Press') "
        "? '' : p.className + ': ' + p.textContent; })()", 60))


async def test_a_link_in_the_address_is_read_only_when_the_reader_presses_add(
        uploads_server: Process, site: PageSite) -> None:
    query = urllib.parse.urlencode({"add": site.url("/news/sea-wall")})
    data_dir: Path = uploads_server.extra["data_dir"]
    before = sorted(p.name for p in data_dir.iterdir())
    async with chromium_page() as page:
        await page.goto(uploads_server.url + "/?" + query)
        await page.wait_for("document.getElementById('link').value !== ''")
        # A link to the bot's page puts nothing of another site in front of the reader.
        assert sorted(p.name for p in data_dir.iterdir()) == before
        assert "Press Add" in await page.evaluate("document.getElementById('added').textContent")
        added = await press_add(page)
        assert added == ("muted: Added Kelsey Bay votes to rebuild its sea wall after winter "
                         "storms (13 sentences). Ask about it below; what it does not say comes "
                         "from the article above.")
        # The page speaks of what it reads now: the server's article and the tab's own.
        assert await page.evaluate("document.getElementById('intro').textContent") == (
            "Ask about these 2 documents; every answer is a quote from them, with where it "
            "comes from.")
        said = await page.ask("Who is the harbour master?")
        assert "Tom Okafor" in said
        # The tab's own documents have no page on the server: their citations link to the
        # page they came from, and name the section the quote is in.
        cite = await page.evaluate("document.querySelector('#log .cite').outerHTML")
        assert cite == (f'<a class="cite" href="{site.url("/news/sea-wall")}" '
                        'rel="noopener noreferrer">Kelsey Bay votes to rebuild its sea wall after '
                        "winter storms › Who pays for the wall ¶ 9</a>")
        # The link went to this page's own library, under a name that does not show its session.
        assert {p.name[:4] for p in data_dir.iterdir()} == {"web-"}
        assert len(list(data_dir.iterdir())) == len(before) + 1
        # The question box suggests a question the added page answers, and it does.
        placeholder = await page.evaluate("document.getElementById('question').placeholder")
        assert placeholder.startswith("e.g. ") and "stabbings" not in placeholder
        said = await page.ask(placeholder.removeprefix("e.g. "))
        cite = await page.evaluate(
            "document.querySelector('#log .turn:last-child .cite').textContent")
        assert "doesn't say" not in said and cite.startswith("Kelsey Bay votes to rebuild")


async def test_a_link_that_cannot_be_read_is_said_so_on_the_page(uploads_server: Process,
                                                                 site: PageSite) -> None:
    query = urllib.parse.urlencode({"add": site.url("/missing")})
    async with chromium_page() as page:
        await page.goto(uploads_server.url + "/?" + query)
        await page.wait_for("document.getElementById('link').value !== ''")
        added = await press_add(page)
        assert added.startswith("error: ") and "404 Not Found" in added


async def test_on_a_narrow_screen_a_reader_lists_removes_and_starts_afresh(
        uploads_server: Process, site: PageSite) -> None:
    async with chromium_page() as page:
        await page.call("Emulation.setDeviceMetricsOverride", width=400, height=700,
                        deviceScaleFactor=1, mobile=False)
        await page.goto(uploads_server.url + "/?" + urllib.parse.urlencode(
            {"add": site.url("/news/sea-wall")}))
        await page.wait_for("document.getElementById('link').value !== ''")
        assert (await press_add(page)).startswith("muted: Added Kelsey Bay")
        listed = "Array.from(document.querySelectorAll('#mine li')).map(li => li.innerText)"
        assert [" ".join(item.split()) for item in await page.evaluate(listed)] == [
            "Kelsey Bay votes to rebuild its sea wall after winter storms (13 sentences) Remove"]
        # Enough answers to scroll: the last one always ends above the ask form.
        for question in ("What did the council vote for?", "more", "Who is the harbour master?"):
            await page.ask(question)
            bottom = await page.evaluate(
                "document.querySelector('#log .turn:last-child').getBoundingClientRect().bottom")
            form_top = await page.evaluate(
                "document.getElementById('ask').getBoundingClientRect().top")
            assert bottom <= form_top + 1, (question, bottom, form_top)
        assert await page.evaluate("document.documentElement.scrollHeight") > 700
        assert await page.evaluate("document.documentElement.scrollWidth") <= 400
        # A reloaded tab still lists what it added.
        await page.goto(uploads_server.url + "/")
        await page.wait_for(f"({listed}).length === 1")
        # New conversation: the log is cleared and "more" has nothing to continue, while the
        # documents stay.
        await page.evaluate("document.getElementById('new').click(); true")
        assert await page.evaluate("document.querySelectorAll('#log .turn').length") == 0
        assert "Ask a question first" in await page.ask("more")
        assert "Tom Okafor" in await page.ask("Who is the harbour master?")
        # Remove: the list empties and the document no longer answers.
        await page.evaluate("document.querySelector('#mine button').click(); true")
        await page.wait_for(f"({listed}).length === 0")
        assert (await page.evaluate("document.getElementById('added').textContent")
                ).startswith("Removed Kelsey Bay votes")
        assert "Tom Okafor" not in await page.ask("Who is the harbour master?")


def data_url_text(url: str, media_type: str) -> str:
    head, _, body = url.partition(",")
    assert head == f"data:{media_type};charset=utf-8", head
    return urllib.parse.unquote(body)


async def test_the_conversation_downloads_as_markdown_and_json_with_its_citations(
        server: Process) -> None:
    """The two download links hold the conversation shown: each question, its answer and
    quotes (the Markdown is the server's, as the REPL's :save writes it); every quote slices
    back to its document; a new conversation empties them."""
    async with chromium_page() as page:
        await page.goto(server.url + "/")
        assert await page.evaluate("document.getElementById('save').hidden") is True
        await page.ask("how many stabbings?")
        await page.ask("Who is the deputy mayor for policing?")
        await page.ask("What did she say?")
        # The Markdown comes from the server (the REPL's :save) once the last answer shows.
        await page.wait_for("(() => { const link = document.getElementById('save'); "
                            "return decodeURIComponent(link.href)"
                            ".includes('## What did she say?'); })()")
        href = "document.getElementById('{}').href"
        markdown = data_url_text(await page.evaluate(href.format("save")), "text/markdown")
        saved = json.loads(data_url_text(await page.evaluate(href.format("save-json")),
                                         "application/json"))
        name = await page.evaluate("document.getElementById('save').download")
        await page.evaluate("document.getElementById('new').click(); true")
        emptied = await page.evaluate("document.getElementById('save').hidden")
    assert name.endswith(".md")
    turns = saved["turns"]
    assert all("session" not in t["answer"] for t in turns)  # it would let a reader in
    assert [t["question"] for t in turns] == [
        "how many stabbings?", "Who is the deputy mayor for policing?", "What did she say?"]
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [t["question"] for t in turns]
    for turn in turns:
        answer = turn["answer"]
        assert answer["answered"] and answer["quotes"]
        if answer.get("answer"):
            assert f"**{answer['answer']}**" in markdown
        for quote in answer["quotes"]:
            with urllib.request.urlopen(f"{server.url}/v1/docs/{quote['doc']}/text",
                                        timeout=30) as response:
                text = response.read().decode("utf-8")
            assert text[quote["start"]:quote["end"]] == quote["text"]
            assert (f"{quote['doc']}, characters {quote['start']}\u2013{quote['end']}"
                    in markdown)
            assert f"\u00b6 {quote['paragraph']}" in markdown
    # "she" is rewritten to whom the last answer was about, and the rewrite is shown.
    assert "*Understood as: What did " in markdown and "Ms Linden said" in markdown
    assert emptied is True


def test_without_uploads_the_page_offers_no_link_field(server: Process) -> None:
    dom = rendered_page(server.url + "/?add=" + urllib.parse.quote("https://example.org/"))
    assert '<form id="add" hidden="">' in dom
    assert "Added" not in dom


# -- citations, the document page, the answer in its quote, narrow screens --------------------

HARBOUR = """---
title: Kelsey Bay harbour report
---
Kelsey Bay harbour report for the winter.
{filler}
Records are kept 🚢 by the port office. The council counted 72 moorings in the inner basin \
last year, and more in the outer basin.
The harbour master is Tom Okafor, who has run the port since 2019.
The dredging survey archive is kept at \
https://example.org/KelseyBayHarbourSurveys2019InnerBasinMooringsFullReportWith\
AppendicesAndMapsAndSoundings.pdf for anyone who wants the whole dredging survey.
"""
#: Paragraphs before the quote, so that the document page must scroll to show it.
FILLER = "\n".join(f"Paragraph {n} of the log notes calm weather and nothing else." for n in
                   range(1, 41))
#: A document whose id and title are HTML: both must be shown as text on every page.
ODD_ID = "a<script>b"
ODD_TITLE = "<script>document.title='pwned'</script> Tide tables"
TIDES = f"""---
title: {ODD_TITLE}
---
The tide tables list the spring tides at 5.2 metres above chart datum.
"""


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "harbour.txt").write_text(HARBOUR.format(filler=FILLER), encoding="utf-8")
    (corpus / f"{ODD_ID}.txt").write_text(TIDES, encoding="utf-8")
    with serve(env={"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_CORPUS": str(corpus)}) as process:
        yield process


def get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers and body of a plain GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


async def ask_on_page(page: Page, url: str, question: str) -> None:
    await page.goto(url + "/?q=" + urllib.parse.quote(question))
    await page.wait_for("document.querySelector('#log .turn blockquote .cite') !== null")


async def follow_citation(page: Page) -> None:
    await page.evaluate("document.querySelector('#log blockquote a.cite').click(); true")
    await page.wait_for("location.pathname.startsWith('/docs/') && "
                        "document.readyState === 'complete' && "
                        "document.querySelector('mark.quote') !== null")


async def test_a_citation_opens_the_document_with_exactly_the_quote_highlighted(
        harbour: Process) -> None:
    status, answer = harbour.post("/v1/ask", {"question": "how many moorings?"})
    assert status == 200 and answer["answer"] == "72"
    quote = answer["quotes"][0]
    _, _, body = get(harbour.url + "/v1/docs/harbour")
    text = json.loads(body)["text"]
    assert quote["text"] == text[quote["start"]:quote["end"]]
    assert quote["text"].startswith("The council counted 72 moorings")
    async with chromium_page() as page:
        await ask_on_page(page, harbour.url, "how many moorings?")
        cite = await page.evaluate("document.querySelector('#log blockquote .cite').textContent")
        assert cite == f"Kelsey Bay harbour report ¶ {quote['paragraph']}"
        await follow_citation(page)
        assert await page.evaluate("location.pathname + location.hash") == (
            f"/docs/harbour#{quote['start']}-{quote['end']}")
        # Offsets count code points; the paragraph has an emoji before the quote.
        marked = await page.evaluate(
            "[...document.querySelectorAll('mark.quote')].map(m => m.textContent).join('')")
        assert marked == quote["text"]
        # The page scrolled to the quote, past forty paragraphs.
        assert await page.evaluate("window.scrollY > 0")
        assert await page.evaluate(
            "(() => { const r = document.getElementById('quote').getBoundingClientRect(); "
            "return r.top >= 0 && r.bottom <= window.innerHeight; })()")
        # The whole text is there, paragraph by paragraph, as the reader's text.
        shown = await page.evaluate(
            "[...document.querySelectorAll('#text p')].map(p => p.textContent).join('\\n')")
        assert shown == "\n".join(line for line in text.splitlines() if line.strip())
        assert await page.evaluate("document.querySelector('h1').textContent") == (
            "Kelsey Bay harbour report")
        # Back in the chat, the conversation is still there and goes on.
        await page.evaluate("history.back(); true")
        await page.wait_for("location.pathname === '/' && "
                            "document.querySelectorAll('#log .turn').length === 1")
        more = await page.click_more()
        assert "The council counted 72 moorings" not in more


async def test_the_question_box_suggests_a_question_the_servers_own_documents_answer(
        harbour: Process) -> None:
    async with chromium_page() as page:
        await page.goto(harbour.url + "/")
        placeholder = await page.wait_for(
            "(p => p.startsWith('e.g. ') && p)(document.getElementById('question').placeholder)")
        example = placeholder.removeprefix("e.g. ")
        assert "stabbings" not in example and example.endswith("?")
        # The page speaks of the documents it reads, not of an article it may lack.
        assert await page.evaluate("document.getElementById('intro').textContent") == (
            "Ask about these 2 documents; every answer is a quote from them, with where it "
            "comes from.")
        said = await page.ask(example)
        cite = await page.evaluate("document.querySelector('#log blockquote .cite').textContent")
    assert said.startswith(example) and "doesn't say" not in said
    assert cite.startswith("Kelsey Bay harbour report") or "Tide tables" in cite
    status, _, body = get(harbour.url + "/v1/config")
    assert status == 200 and json.loads(body)["examples"][0] == example
    # An empty question over the API is answered with the same kind of hint.
    status, error = harbour.post("/v1/ask", {"question": " "})
    assert status == 422 and error["error"]["code"] == "empty_question"
    hinted = re.findall(r"“([^”]+)”", error["error"]["message"])
    assert example in hinted and "stabbings" not in error["error"]["message"]


async def test_after_adding_a_link_the_page_speaks_of_the_servers_documents_not_an_article(
        site: PageSite, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR.format(filler=""), encoding="utf-8")
    (corpus / "tides.txt").write_text(TIDES, encoding="utf-8")
    with serve(env={"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_CORPUS": str(corpus),
                    "QUOTEBOT_WEB_UPLOADS": "1", "QUOTEBOT_DATA_DIR": str(tmp_path / "data"),
                    "QUOTEBOT_ALLOW_PRIVATE_URLS": "1"}) as server:
        async with chromium_page() as page:
            await page.goto(server.url + "/?" + urllib.parse.urlencode(
                {"add": site.url("/news/sea-wall")}))
            await page.wait_for("document.getElementById('link').value !== ''")
            added = await press_add(page)
            intro = await page.evaluate("document.getElementById('intro').textContent")
    assert added.endswith("what it does not say comes from the documents above.")
    assert intro.startswith("Ask about these 3 documents;")


async def test_the_short_answer_is_marked_inside_its_quote(harbour: Process) -> None:
    async with chromium_page() as page:
        await ask_on_page(page, harbour.url, "how many moorings?")
        assert await page.evaluate("document.querySelector('#log .short').textContent") == "72"
        marked = await page.evaluate(
            "[...document.querySelectorAll('#log blockquote mark.answer')]"
            ".map(m => m.textContent)")
        assert marked == ["72"]
        # Around it the quote reads as it did: the answer is marked, not moved or doubled.
        assert (await page.evaluate("document.querySelector('#log blockquote').firstChild"
                                    ".parentNode.textContent")).startswith(
            "The council counted 72 moorings in the inner basin")


async def test_a_document_id_and_title_made_of_html_stay_text(harbour: Process) -> None:
    async with chromium_page() as page:
        await ask_on_page(page, harbour.url, "how high are the spring tides?")
        cite = await page.evaluate("document.querySelector('#log blockquote .cite').textContent")
        assert cite == f"{ODD_TITLE} ¶ 1"
        await follow_citation(page)
        assert await page.evaluate("decodeURIComponent(location.pathname)") == f"/docs/{ODD_ID}"
        assert await page.evaluate("document.querySelector('h1').textContent") == ODD_TITLE
        assert await page.evaluate("document.title") == f"{ODD_TITLE} · quotebot"
        # The only script is the page's own.
        assert await page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))") == [
            "/static/doc.js"]
        assert await page.evaluate("document.querySelector('mark.quote').textContent") == (
            "The tide tables list the spring tides at 5.2 metres above chart datum.")


def test_an_unknown_document_is_a_page_saying_so(harbour: Process) -> None:
    status, headers, body = get(harbour.url + "/docs/" + urllib.parse.quote("<script>x()<"))
    page = body.decode()
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    # Document pages keep the chat page's policy: no inline script would run.
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in get(harbour.url + "/docs/harbour")[1][
        "Content-Security-Policy"]
    assert "No such document" in page and "&lt;script&gt;x()&lt;" in page
    assert "<script>x()" not in page and "Traceback" not in page
    assert '<a href="/">chat page</a>' in page


async def test_a_narrow_screen_never_scrolls_sideways(harbour: Process) -> None:
    async with chromium_page() as page:
        await page.call("Emulation.setDeviceMetricsOverride", width=400, height=800,
                        deviceScaleFactor=1, mobile=False)
        await ask_on_page(page, harbour.url, "where is the dredging survey archive?")
        assert "FullReportWithAppendices" in await page.evaluate(
            "document.querySelector('#log blockquote').textContent")
        assert await page.evaluate("window.innerWidth") == 400
        assert await page.evaluate("document.documentElement.scrollWidth") <= 400
        await follow_citation(page)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 400


def test_the_favicon_is_served(server: Process) -> None:
    status, headers, body = get(server.url + "/favicon.ico")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert body.lstrip().startswith(b"<svg")
    assert 'rel="icon"' in get(server.url + "/")[2].decode()
