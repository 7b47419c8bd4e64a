"""Libraries over HTTP, against real `quotebot serve` processes: with QUOTEBOT_API_KEY a client
that sends the key adds links, texts and files to a named library and asks it; without the
key nobody can; the library lives under QUOTEBOT_DATA_DIR, so it survives a restart and a
second replica sharing the folder answers from it too."""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pages import FIXTURES, PageSite, article_page, page_site
from servers import Process, serve, wait_until

pytestmark = pytest.mark.slow

KEY = "test-key-" + "k" * 24
AUTH = {"Authorization": f"Bearer {KEY}"}
OFF = {"QUOTEBOT_SEMANTIC": "off"}
TITLE = "Kelsey Bay votes to rebuild its sea wall after winter storms"
SEA_WALL = "sea-wall"


def call(server: Process, method: str, path: str, data: Any = None,
         headers: dict[str, str] | None = None, body: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, Any, dict[str, str]]:
    """One request; its status, JSON body and headers (error statuses included)."""
    if body is None and data is not None:
        body = json.dumps(data).encode()
    request = urllib.request.Request(server.url + path, data=body, method=method, headers={
        "Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def multipart(field: str, name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def is_error(body: Any, code: str) -> bool:
    return (set(body) == {"error"} and set(body["error"]) == {"code", "message"}
            and body["error"]["code"] == code and bool(body["error"]["message"]))


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    ferry = article_page("Ferry returns to Kelsey Bay", [
        "The ferry to Kelsey Bay returns on Monday after six weeks of repairs to its engine."])
    with page_site({"/ferry": (ferry, "text/html")}) as pages:
        yield pages


def keyed_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**OFF, "QUOTEBOT_API_KEY": KEY, "QUOTEBOT_DATA_DIR": str(data_dir),
            "QUOTEBOT_ALLOW_PRIVATE_URLS": "1", **extra}


def test_a_client_with_the_key_adds_a_link_asks_it_lists_shows_and_removes_it(
        site: PageSite, tmp_path: Path) -> None:
    with serve(env=keyed_env(tmp_path)) as server:
        status, added, _ = call(server, "POST", "/v1/libraries/news/docs",
                                {"url": site.url("/news/sea-wall")}, AUTH)
        assert (status, added) == (201, {"doc": SEA_WALL, "title": TITLE,
                                         "url": site.url("/news/sea-wall"), "sentences": 13,
                                         "kept_words": 215, "page_words": 397})
        status, answer = server.post("/v1/ask", {"question": "Who is the harbour master?",
                                                 "library": "news"}, AUTH)
        assert status == 200 and "Tom Okafor" in answer["quotes"][0]["text"]
        assert answer["quotes"][0]["doc"] == SEA_WALL
        # An empty question is told so with questions this library answers, not the corpus's.
        status, body = server.post("/v1/ask", {"question": " ", "library": "news"}, AUTH)
        assert status == 422 and is_error(body, "empty_question")
        examples = re.findall(r"“([^”]+)”", body["error"]["message"])
        assert examples and "stabbings" not in body["error"]["message"]
        for example in examples:
            status, answered = server.post("/v1/ask", {"question": example, "library": "news"},
                                           AUTH)
            assert answered["answered"] and answered["quotes"][0]["doc"] == SEA_WALL, example
        status, body = server.post("/v1/ask", {"question": "?!"})
        assert status == 422 and is_error(body, "no_words")
        assert not set(re.findall(r"“([^”]+)”", body["error"]["message"])) & set(examples)
        # A follow-up in the same session stays with the library.
        status, more = server.post("/v1/ask", {"question": "more", "library": "news",
                                               "session": answer["session"]}, AUTH)
        assert status == 200 and all(q["doc"] == SEA_WALL for q in more["quotes"])
        # The server's own article is still what /v1/ask answers from without "library".
        status, corpus = server.post("/v1/ask", {"question": "Who is the harbour master?"})
        assert status == 200 and "Tom Okafor" not in json.dumps(corpus)
        status, listed, _ = call(server, "GET", "/v1/libraries/news/docs", headers=AUTH)
        assert (status, listed) == (200, {"library": "news", "documents": [
            {"doc": SEA_WALL, "title": TITLE, "url": site.url("/news/sea-wall"),
             "sentences": 13}]})
        status, shown, _ = call(server, "GET", f"/v1/libraries/news/docs/{SEA_WALL}",
                                headers=AUTH)
        quote = answer["quotes"][0]
        assert status == 200 and shown["text"][quote["start"]:quote["end"]] == quote["text"]
        status, gone, _ = call(server, "DELETE", f"/v1/libraries/news/docs/{SEA_WALL}",
                               headers=AUTH)
        assert (status, gone["removed"], gone["doc"]) == (200, True, SEA_WALL)
        status, body = server.post("/v1/ask", {"question": "Who is the harbour master?",
                                               "library": "news"}, AUTH)
        assert status == 404 and is_error(body, "unknown_library")
        status, body, _ = call(server, "DELETE", f"/v1/libraries/news/docs/{SEA_WALL}",
                               headers=AUTH)
        assert status == 404 and body["error"]["code"] in ("unknown_document", "unknown_doc")


def test_texts_and_files_are_added_and_bad_ones_refused_in_the_one_error_shape(
        tmp_path: Path) -> None:
    with serve(env=keyed_env(tmp_path)) as server:
        text = (FIXTURES / "own-articles" / "tram-extension.txt").read_text()
        status, added, _ = call(server, "POST", "/v1/libraries/notes/docs",
                                {"text": text, "title": "Tram extension"}, AUTH)
        assert status == 201 and added["title"] == "Tram extension" and added["sentences"] > 1
        # A text or a file came from no link: no "url" (as in /v1/docs), never "url": "".
        assert "url" not in added
        body, content_type = multipart("file", "river-report.pdf",
                                       (FIXTURES / "river-report.pdf").read_bytes())
        status, added, _ = call(server, "POST", "/v1/libraries/notes/docs", body=body,
                                headers=AUTH, content_type=content_type)
        assert status == 201 and added["title"] == "The River Report" and "url" not in added
        status, listed, _ = call(server, "GET", "/v1/libraries/notes/docs", headers=AUTH)
        assert status == 200 and [sorted(d) for d in listed["documents"]] == [
            ["doc", "sentences", "title"]] * 2
        status, shown, _ = call(server, "GET", f"/v1/libraries/notes/docs/{added['doc']}",
                                headers=AUTH)
        assert status == 200 and sorted(shown) == ["doc", "text", "title"]
        status, answer = server.post("/v1/ask", {"question": "How much will the repairs cost?",
                                                 "library": "notes"}, AUTH)
        assert status == 200 and "£380,000" in answer["quotes"][0]["text"]
        word, word_type = multipart("file", "minutes.docx", b"PK\x03\x04 a word file")
        refusals = [
            (call(server, "POST", "/v1/libraries/notes/docs", {}, AUTH), 422, "missing_field"),
            (call(server, "POST", "/v1/libraries/notes/docs", {"url": "ftp://example.org/x"},
                  AUTH), 400, "url_not_allowed"),
            (call(server, "POST", "/v1/libraries/tg-1/docs", {"text": "Hi there."}, AUTH), 422,
             "invalid_library"),
            (call(server, "POST", "/v1/libraries/Bad%20Name/docs", {"text": "Hi."}, AUTH), 422,
             "invalid_library"),
            (call(server, "POST", "/v1/libraries/notes/docs", body=word, headers=AUTH,
                  content_type=word_type), 415, "unsupported_file"),
        ]
        for (status, body, _), expected, code in refusals:
            assert status == expected and is_error(body, code), body
            assert KEY not in json.dumps(body) and str(tmp_path) not in json.dumps(body)


def test_without_the_key_nobody_reaches_a_library(site: PageSite, tmp_path: Path) -> None:
    with serve(env=keyed_env(tmp_path)) as server:
        link = {"url": site.url("/news/sea-wall")}
        for headers in ({}, {"Authorization": "Bearer wrong-key-wrong-key-wrong"},
                        {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY}):
            status, body, sent = call(server, "POST", "/v1/libraries/news/docs", link, headers)
            assert status == 401 and is_error(body, "unauthorized")
            assert sent["WWW-Authenticate"].startswith("Bearer")
            status, body, _ = call(server, "GET", "/v1/libraries/news/docs", headers=headers)
            assert status == 401
            status, body = server.post("/v1/ask", {"question": "Who?", "library": "news"},
                                       headers)
            assert status == 401 and is_error(body, "unauthorized")
        assert not (tmp_path / "news").exists()
    assert KEY not in server.log()


def test_with_no_key_configured_the_library_endpoints_are_off(tmp_path: Path) -> None:
    with serve(env={**OFF, "QUOTEBOT_DATA_DIR": str(tmp_path)}) as server:
        status, body, _ = call(server, "POST", "/v1/libraries/news/docs",
                               {"text": "Some text."}, AUTH)
        assert status == 403 and is_error(body, "libraries_disabled")
        assert "QUOTEBOT_API_KEY" in body["error"]["message"]
        status, body = server.post("/v1/ask", {"question": "how many stabbings?",
                                               "library": "news"}, AUTH)
        assert status == 403 and is_error(body, "libraries_disabled")
        status, answer = server.post("/v1/ask", {"question": "how many stabbings?"})
        assert status == 200 and "72 fatal stabbings" in answer["quotes"][0]["text"]
        status, config, _ = call(server, "GET", "/v1/config")
        assert status == 200 and (config["uploads"], config["max_documents"]) == (False, 0)
        assert config["examples"][:1] == ["How many homicides?"]  # the shipped article's
    assert not any(tmp_path.iterdir())


def test_a_private_address_is_refused_as_url_not_allowed(site: PageSite, tmp_path: Path) -> None:
    env = keyed_env(tmp_path)
    del env["QUOTEBOT_ALLOW_PRIVATE_URLS"]
    fetched = site.hits.get("/news/sea-wall", 0)
    with serve(env=env) as server:
        status, body, _ = call(server, "POST", "/v1/libraries/news/docs",
                               {"url": site.url("/news/sea-wall")}, AUTH)
    assert status == 400 and is_error(body, "url_not_allowed")
    assert site.hits.get("/news/sea-wall", 0) == fetched
    assert not (tmp_path / "news" / f"{SEA_WALL}.txt").exists()


def test_a_library_survives_a_restart_and_replicas_sharing_the_folder_share_it(
        site: PageSite, tmp_path: Path) -> None:
    env = keyed_env(tmp_path)
    with serve(env=env) as first:
        status, _, _ = call(first, "POST", "/v1/libraries/shared/docs",
                            {"url": site.url("/news/sea-wall")}, AUTH)
        assert status == 201
    with serve(env=env) as again, serve(env=env) as replica:
        for server in (again, replica):
            status, answer = server.post("/v1/ask", {"question": "Who is the harbour master?",
                                                     "library": "shared"}, AUTH)
            assert status == 200 and "Tom Okafor" in answer["quotes"][0]["text"]
        # What one replica adds, the other answers from at once.
        text = (FIXTURES / "own-articles" / "cup-final.txt").read_text()
        status, added, _ = call(replica, "POST", "/v1/libraries/shared/docs", {"text": text},
                                AUTH)
        assert status == 201
        status, listed, _ = call(again, "GET", "/v1/libraries/shared/docs", headers=AUTH)
        assert {d["doc"] for d in listed["documents"]} == {SEA_WALL, added["doc"]}
        status, answer = again.post("/v1/ask", {"question": "Who scored the winner?",
                                                "library": "shared"}, AUTH)
        assert status == 200 and "Lena Moss" in answer["quotes"][0]["text"]


def test_a_web_page_session_adds_a_link_that_only_its_own_questions_see(
        site: PageSite, tmp_path: Path) -> None:
    env = {**OFF, "QUOTEBOT_DATA_DIR": str(tmp_path), "QUOTEBOT_WEB_UPLOADS": "1",
           "QUOTEBOT_WEB_MAX_DOCS": "1", "QUOTEBOT_ALLOW_PRIVATE_URLS": "1"}
    with serve(env=env) as server:
        status, config, _ = call(server, "GET", "/v1/config")
        assert status == 200 and (config["uploads"], config["max_documents"]) == (True, 1)
        status, added = server.post("/v1/session/docs", {"url": site.url("/news/sea-wall")})
        assert status == 201 and added["title"] == TITLE and added["sentences"] == 13
        session = added["session"]
        status, answer = server.post("/v1/ask", {"question": "Who is the harbour master?",
                                                 "session": session})
        assert status == 200 and "Tom Okafor" in answer["quotes"][0]["text"]
        # What the link does not say comes from the server's article, in the same session.
        status, answer = server.post("/v1/ask", {"question": "how many stabbings?",
                                                 "session": session})
        assert status == 200 and "72 fatal stabbings" in answer["quotes"][0]["text"]
        status, other = server.post("/v1/ask", {"question": "Who is the harbour master?"})
        assert status == 200 and "Tom Okafor" not in json.dumps(other)
        # One link per session here (QUOTEBOT_WEB_MAX_DOCS=1); a second is refused politely.
        status, body = server.post("/v1/session/docs", {"url": site.url("/ferry"),
                                                        "session": session})
        assert status == 409 and is_error(body, "library_full")
        status, body = server.post("/v1/session/docs", {"url": site.url("/news/sea-wall"),
                                                        "session": "not-a-session-we-issued"})
        assert status == 404 and is_error(body, "unknown_session")
        # The session lists what it added and removes it; nobody else can.
        status, listed, _ = call(server, "GET", f"/v1/session/docs?session={session}")
        assert (status, listed) == (200, {"documents": [
            {"doc": SEA_WALL, "title": TITLE, "url": site.url("/news/sea-wall"),
             "sentences": 13}]})
        for method, path in (("GET", "/v1/session/docs"),
                             ("GET", "/v1/session/docs?session=not-a-session-we-issued"),
                             ("DELETE", f"/v1/session/docs/{SEA_WALL}?session=nope")):
            status, body, _ = call(server, method, path)
            assert status == 404 and is_error(body, "unknown_session"), path
        status, body, _ = call(server, "DELETE", f"/v1/session/docs/ferry?session={session}")
        assert status == 404 and is_error(body, "unknown_document")
        status, body = server.post("/v1/ask", {"question": "more", "session": session,
                                               "new": "yes"})
        assert status == 422 and body["error"]["message"] == (
            "The field 'new' must be true or false, not a string.")
        status, gone, _ = call(server, "DELETE",
                               f"/v1/session/docs/{SEA_WALL}?session={session}")
        assert (status, gone["removed"], gone["doc"]) == (200, True, SEA_WALL)
        status, listed, _ = call(server, "GET", f"/v1/session/docs?session={session}")
        assert (status, listed) == (200, {"documents": []})
        status, answer = server.post("/v1/ask", {"question": "Who is the harbour master?",
                                                 "session": session})
        assert status == 200 and "Tom Okafor" not in json.dumps(answer)
        # Named libraries still need the key, which this server does not have.
        status, body, _ = call(server, "GET", "/v1/libraries/news/docs", headers=AUTH)
        assert status == 403 and is_error(body, "libraries_disabled")
    with serve(env={**OFF, "QUOTEBOT_DATA_DIR": str(tmp_path)}) as server:
        status, body = server.post("/v1/session/docs", {"url": site.url("/news/sea-wall")})
        assert status == 403 and is_error(body, "uploads_disabled")
        status, body, _ = call(server, "GET", f"/v1/session/docs?session={session}")
        assert status == 403 and is_error(body, "uploads_disabled")


def test_an_error_never_tells_a_client_where_the_server_keeps_its_files(tmp_path: Path) -> None:
    """Catches a message passed through with the server's folders in it: a library whose
    saved index is damaged on disk is refused, naming the index but not where it is."""
    data = tmp_path / "private-data-folder"
    with serve(env=keyed_env(data)) as server:
        status, _, _ = call(server, "POST", "/v1/libraries/notes/docs",
                            {"text": "The ferry sails at seven every morning.",
                             "title": "Ferry"}, AUTH)
        assert status == 201
        manifests = list(data.rglob("manifest.json"))
        assert manifests
        for manifest in manifests:
            manifest.write_text("garbage", encoding="utf-8")
        status, body = server.post("/v1/ask", {"question": "When does the ferry sail?",
                                               "library": "notes"}, AUTH)
        assert status >= 400 and is_error(body, body["error"]["code"])
        message = body["error"]["message"]
        assert "damaged" in message
        assert str(tmp_path) not in message and "private-data-folder" not in message
        assert not re.search(r"'/[^']*'", message)


def test_control_characters_never_break_a_library_or_lose_a_document(tmp_path: Path) -> None:
    """Catches a NUL in a title or text written into the library's file: the file then
    read as binary, the earlier version it replaced was already deleted, and every later
    add to the library failed with 500."""
    with serve(env=keyed_env(tmp_path)) as server:
        story = "Gamma said the shop opened on Friday."
        status, first, _ = call(server, "POST", "/v1/libraries/shop/docs",
                                {"text": story, "title": "Shop story"}, AUTH)
        assert status == 201 and "replaced" not in first
        # The same text again, now with a NUL in its title: it replaces the first, says so.
        status, again, _ = call(server, "POST", "/v1/libraries/shop/docs",
                                {"text": story, "title": "Bad\u0000title"}, AUTH)
        assert status == 201 and again["replaced"] is True
        assert again["title"] == "Badtitle"
        status, other, _ = call(server, "POST", "/v1/libraries/shop/docs",
                                {"text": "The ferry\u0000 sails at seven\u0007.", "title": "Ferry"},
                                AUTH)
        assert status == 201
        status, listed, _ = call(server, "GET", "/v1/libraries/shop/docs", headers=AUTH)
        assert status == 200
        assert sorted(d["title"] for d in listed["documents"]) == ["Badtitle", "Ferry"]
        status, answer = server.post("/v1/ask", {"question": "When did the shop open?",
                                                 "library": "shop"}, AUTH)
        assert status == 200 and "Friday" in answer["quotes"][0]["text"]
        status, shown, _ = call(server, "GET", f"/v1/libraries/shop/docs/{other['doc']}",
                                headers=AUTH)
        assert status == 200 and shown["text"].strip() == "The ferry sails at seven."
        assert not any(ch in json.dumps(listed) for ch in ("\\u0000", "\\u0007"))


def test_the_libraries_of_chats_and_web_pages_are_refused_even_with_the_key(
        tmp_path: Path) -> None:
    from quotebot.library import Library
    from quotebot.models import Document

    secret = Document("harbour", "Harbour", "The harbour master counted 41 boats on Sunday.\n")
    for name in ("tg-5", "web-" + "a" * 32):
        Library(tmp_path / name).add([secret], semantic="off")
    with serve(env=keyed_env(tmp_path)) as server:
        for name in ("tg-5", "web-" + "a" * 32):
            status, body = server.post("/v1/ask", {"question": "How many boats?",
                                                   "library": name}, AUTH)
            assert status == 422 and is_error(body, "invalid_library"), body
            assert "41" not in json.dumps(body)
            for method, path, data in [("GET", f"/v1/libraries/{name}/docs", None),
                                       ("GET", f"/v1/libraries/{name}/docs/harbour", None),
                                       ("DELETE", f"/v1/libraries/{name}/docs/harbour", None),
                                       ("POST", f"/v1/libraries/{name}/docs", {"text": "x y."})]:
                status, body, _ = call(server, method, path, data, AUTH)
                assert status == 422 and is_error(body, "invalid_library"), (method, path)
        assert Library(tmp_path / "tg-5").documents()[0].id == "harbour"


def wards_text(n: int) -> bytes:
    """About 700 KB of plain text: quick to read, seconds to index."""
    words = ["harbour", "council", "ferry", "school", "bridge", "market", "library", "station"]
    return "\n\n".join(" ".join(
        f"The {words[(p + i) % 8]} committee of Ward {p * 7 + i} approved {p * 3 + i + n} new "
        f"homes on Tuesday." for i in range(6)) for p in range(1700)).encode()


def add_link_as_a_page(server: Process, url: str, timeout: float = 10) -> tuple[int, Any]:
    """The web page adding a link, waiting as told when this address has added its burst of
    links (the tests of one server share 127.0.0.1, and a quick run uses the burst up)."""
    for _ in range(3):
        status, body = server.post("/v1/session/docs", {"url": url}, timeout=timeout)
        if status != 429:
            break
        wait = re.search(r"retry in (\d+) s", body["error"]["message"])
        assert wait is not None, body
        time.sleep(float(wait[1]) + 0.5)
    return status, body


@pytest.fixture(scope="module")
def busy(site: PageSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """One server with libraries and web page uploads, for the tests of fairness and errors."""
    site.pages["/wards-1"] = (wards_text(1), "text/plain; charset=utf-8")
    site.pages["/wards-2"] = (wards_text(2), "text/plain; charset=utf-8")
    site.pages["/wards-3"] = (wards_text(3), "text/plain; charset=utf-8")
    odd = article_page("Odd", ["A page whose server names a charset nobody can decode."])
    site.pages["/idna"] = (odd, "text/html; charset=idna")
    site.pages["/undefined"] = (odd, "text/html; charset=undefined")
    data_dir = tmp_path_factory.mktemp("busy")
    with serve(env=keyed_env(data_dir, QUOTEBOT_WEB_UPLOADS="1")) as server:
        yield server


def test_an_api_clients_add_is_not_held_behind_web_pages_adding_large_pages(
        busy: Process, site: PageSite) -> None:
    finished: dict[str, tuple[float, int]] = {}
    # The adding processes are up before the race (a first add may wait for them).
    status, _, _ = call(busy, "POST", "/v1/libraries/warm/docs", {"text": "Ferries run."},
                        AUTH)
    assert status == 201

    def web_add(path: str) -> None:
        status, _ = busy.post("/v1/session/docs", {"url": site.url(path)}, timeout=180)
        finished[path] = (time.monotonic(), status)

    pages = ("/wards-1", "/wards-2", "/wards-3")  # within the burst of links one address may add
    adders = [threading.Thread(target=web_add, args=(p,)) for p in pages]
    for adder in adders:
        adder.start()
    # Two pages fetched: a whole page's add is still to come after the API's.
    assert wait_until(lambda: sum(bool(site.hits.get(p)) for p in pages) >= 2, 30)
    status, added, _ = call(busy, "POST", "/v1/libraries/desk/docs",
                            {"text": "The front desk opens at nine.", "title": "Desk"}, AUTH)
    api_done = time.monotonic()
    for adder in adders:
        adder.join(180)
    assert status == 201 and added["sentences"] == 1
    assert [finished[p][1] for p in pages] == [201] * len(pages)
    # The web pages' adds take turns in one process: the last one ends whole page adds
    # after the first. The API client's add has a process of its own and ends before
    # it; held behind the pages, it would end after all of them.
    assert api_done < max(at for at, _ in finished.values()), "the API add waited for a page"


def test_documents_that_grow_while_read_are_refused_at_the_cap_and_answering_goes_on(
        busy: Process, site: PageSite) -> None:
    """A 310 KB PDF whose 2,000 pages share one content stream (60 MB of text) was still
    being read after 45 s, and a web page link to 200,000 short paragraphs (8.7 MB, under
    the fetch cap) answered nothing within 45 s, its extraction running on."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pdfs", FIXTURES / "make_pdfs.py")
    assert spec is not None and spec.loader is not None
    make_pdfs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_pdfs)
    book = make_pdfs.shared_stream_pdf(2000, 560)
    assert len(book) < 400_000
    site.pages["/list"] = (("<html><body><article>" + "".join(
        f"<p>Item {n}: a short line of text.</p>" for n in range(200_000))
        + "</article></body></html>").encode(), "text/html; charset=utf-8")
    # (Through the API: the web page's links from one address are few a minute, and the
    # other tests of this server add some.)
    status, refused, _ = call(busy, "POST", "/v1/libraries/lists/docs",
                              {"url": site.url("/list")}, AUTH)
    assert status == 413 and is_error(refused, "document_too_large"), refused
    # A web page's library holds 1 MB of text: reading a link for it stops there, not at the
    # 10 MB a page may have (ten times the reading, a minute on a busy machine).
    site.pages["/book.pdf"] = (book, "application/pdf")
    status, refused = add_link_as_a_page(busy, site.url("/book.pdf"), timeout=90)
    assert status == 413 and is_error(refused, "document_too_large"), refused
    assert "more than 1.0 MB of text" in refused["error"]["message"]
    status, answer = busy.post("/v1/ask", {"question": "how many stabbings?"})
    assert status == 200 and "72 fatal stabbings" in answer["quotes"][0]["text"]
    assert "Traceback" not in busy.log()


def test_one_key_is_one_tenant_as_the_docs_say(busy: Process) -> None:
    """The docs once spoke of clients keeping libraries "of their own" while any holder of
    the one key reads and deletes every library: they now say what the server does."""
    guide = " ".join((Path(__file__).parents[1] / "docs" / "bot.md").read_text(
        encoding="utf-8").split())
    assert ("There is one key, so its holders are one tenant: every client with the key can "
            "list, read, ask and delete every named library.") in guide
    status, added, _ = call(busy, "POST", "/v1/libraries/alice-notes/docs",
                            {"text": "The kiosk sells 40 papers a day.", "title": "Kiosk"},
                            {**AUTH, "User-Agent": "alice"})
    assert status == 201
    other = {**AUTH, "User-Agent": "bob"}
    status, listed, _ = call(busy, "GET", "/v1/libraries/alice-notes/docs", headers=other)
    assert status == 200 and [d["doc"] for d in listed["documents"]] == [added["doc"]]
    status, _, _ = call(busy, "DELETE", f"/v1/libraries/alice-notes/docs/{added['doc']}",
                        headers=other)
    assert status == 200
    status, _, _ = call(busy, "GET", f"/v1/libraries/alice-notes/docs/{added['doc']}",
                           headers=AUTH)
    assert status == 404


def test_a_missing_document_of_a_library_names_the_library_and_its_listing(
        busy: Process) -> None:
    call(busy, "POST", "/v1/libraries/shelf-a/docs", {"text": "Ferries run hourly."}, AUTH)
    for method in ("GET", "DELETE"):
        status, body, _ = call(busy, method, "/v1/libraries/shelf-a/docs/nope", headers=AUTH)
        assert status == 404 and is_error(body, "unknown_document")
        assert body["error"]["message"] == ("No document 'nope' in library 'shelf-a'; "
                                            "GET /v1/libraries/shelf-a/docs lists its documents.")


@pytest.mark.parametrize("path", ["/idna", "/undefined"])
def test_a_page_in_a_charset_nobody_can_decode_is_unreadable_page_never_internal_error(
        busy: Process, site: PageSite, path: str) -> None:
    status, body, _ = call(busy, "POST", "/v1/libraries/odd/docs", {"url": site.url(path)},
                           AUTH)
    assert status == 422 and is_error(body, "unreadable_page"), body
    status, body = add_link_as_a_page(busy, site.url(path))
    assert status == 422 and is_error(body, "unreadable_page"), body
    assert "Traceback" not in busy.log()


def test_web_page_libraries_go_with_their_sessions_and_are_limited_in_number(
        site: PageSite, tmp_path: Path) -> None:
    from quotebot.library import Library
    from quotebot.models import Document

    # Left by sessions a restart forgot; a named library and a user's file stay.
    note = Document("note", "Note", "The kiosk sells 40 papers a day.\n")
    for name in ("web-" + "a" * 32, "web-" + "b" * 32, "news"):
        Library(tmp_path / name).add([note], semantic="off")
    (tmp_path / ("web-" + "b" * 32) / "mine.md").write_text("Someone's own notes.\n")
    env = {**keyed_env(tmp_path), "QUOTEBOT_WEB_UPLOADS": "1", "QUOTEBOT_WEB_MAX_LIBRARIES": "1"}
    with serve(env=env) as server:
        assert wait_until(lambda: not (tmp_path / ("web-" + "a" * 32)).exists() and not (
            tmp_path / ("web-" + "b" * 32) / ".quotebot-index").exists(), 30)
        assert (tmp_path / ("web-" + "b" * 32) / "mine.md").exists()
        assert not list((tmp_path / ("web-" + "b" * 32)).glob("note*"))
        assert Library(tmp_path / "news").documents()[0].id == "note"
        status, added = server.post("/v1/session/docs", {"url": site.url("/ferry")})
        assert status == 201
        status, body = server.post("/v1/session/docs", {"url": site.url("/ferry")})
        assert status == 503 and is_error(body, "web_libraries_full")
        # The first session's next link goes to the library it has.
        status, body = server.post("/v1/session/docs", {"url": site.url("/news/sea-wall"),
                                                        "session": added["session"]})
        assert status == 201


def test_a_web_page_sessions_library_is_removed_once_the_session_expires(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    from types import SimpleNamespace

    from quotebot.bot import sessions
    from quotebot.bot.libraries import Shelf, keep_session_library, sweep_session_libraries
    from quotebot.library import LibraryLimits
    from quotebot.models import Document

    now = [1000.0]  # the store's clock, moved by hand
    monkeypatch.setattr(sessions, "time", SimpleNamespace(monotonic=lambda: now[0]))

    async def lifetime() -> tuple[list[str], list[str], list[str]]:
        store = sessions.MemorySessionStore(ttl=60)
        shelf = Shelf(tmp_path, semantic="off")
        try:
            for name in ("web-live", "web-ending"):
                await keep_session_library(shelf, store, name)
                await shelf.add(name, functools.partial(
                    Document, "d", "D", "Ferries run hourly.\n"), LibraryLimits())
            await keep_session_library(shelf, store, "web-never-added", only_if_kept=True)
            first = await sweep_session_libraries(shelf, store)
            now[0] += 40
            await keep_session_library(shelf, store, "web-live", only_if_kept=True)  # asked
            now[0] += 40  # the other session's last question was 80 s ago
            second = await sweep_session_libraries(shelf, store)
            return first, second, shelf.session_libraries()
        finally:
            shelf.close()

    assert asyncio.run(lifetime()) == ([], ["web-ending"], ["web-live"])
    assert not (tmp_path / "web-ending").exists()


def test_without_a_shared_store_a_library_goes_once_untouched_for_a_session_lifetime(
        tmp_path: Path) -> None:
    """Several workers without Redis: no worker knows the others' sessions, so the sweep
    judges by the folder's time of change, which each question of the session sets."""
    import asyncio
    import os

    from quotebot.bot.libraries import Shelf, keep_session_library, sweep_session_libraries
    from quotebot.bot.sessions import MemorySessionStore
    from quotebot.library import LibraryLimits
    from quotebot.models import Document

    day = 24 * 3600

    async def lifetime() -> tuple[list[str], list[str], list[str]]:
        store = MemorySessionStore(ttl=day)  # knows none of the sessions below
        shelf = Shelf(tmp_path, semantic="off")
        try:
            for name in ("web-live", "web-ending", "web-asked"):
                await shelf.add(name, functools.partial(
                    Document, "d", "D", "Ferries run hourly.\n"), LibraryLimits())
            first = await sweep_session_libraries(shelf, store, idle=day)
            now = time.time()
            os.utime(tmp_path / "web-ending", (now - day - 60, now - day - 60))
            os.utime(tmp_path / "web-asked", (now - day + 60, now - day + 60))
            os.utime(tmp_path / "web-live", (now - day - 60, now - day - 60))
            await keep_session_library(shelf, store, "web-live")  # a question just now
            second = await sweep_session_libraries(shelf, store, idle=day)
            return first, second, shelf.session_libraries()
        finally:
            shelf.close()

    assert asyncio.run(lifetime()) == ([], ["web-ending"], ["web-asked", "web-live"])
    assert not (tmp_path / "web-ending").exists()


def test_two_workers_without_redis_remove_web_libraries_of_ended_sessions_and_keep_live_ones(
        site: PageSite, tmp_path: Path) -> None:
    import os

    from quotebot.bot.libraries import session_library
    from quotebot.library import Library
    from quotebot.models import Document

    note = Document("note", "Note", "The kiosk sells 40 papers a day.\n")
    old, recent = "web-" + "c" * 32, "web-" + "d" * 32
    for name in (old, recent):
        Library(tmp_path / name).add([note], semantic="off")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / old, (two_days_ago, two_days_ago))
    env = {**keyed_env(tmp_path), "QUOTEBOT_WEB_UPLOADS": "1", "QUOTEBOT_WORKERS": "2"}
    with serve(env=env, timeout=90) as server:
        assert wait_until(lambda: not (tmp_path / old).exists(), 30)
        status, added = server.post("/v1/session/docs", {"url": site.url("/ferry")},
                                    timeout=60)
        assert status == 201
        # Sessions that may still be alive in a worker's memory keep their libraries.
        assert (tmp_path / session_library(added["session"])).exists()
        assert (tmp_path / recent).exists()
    assert "Traceback" not in server.log()


def test_web_page_libraries_together_are_limited_in_size(site: PageSite, tmp_path: Path
                                                         ) -> None:
    env = {**keyed_env(tmp_path), "QUOTEBOT_WEB_UPLOADS": "1",
           "QUOTEBOT_WEB_MAX_TOTAL_MB": "0.001"}  # about 1 KB: one small library passes it
    with serve(env=env) as server:
        status, added = server.post("/v1/session/docs", {"url": site.url("/ferry")})
        assert status == 201
        status, body = server.post("/v1/session/docs", {"url": site.url("/ferry")})
        assert status == 503 and is_error(body, "web_libraries_full"), body
        status, body = server.post("/v1/session/docs", {"url": site.url("/news/sea-wall"),
                                                        "session": added["session"]})
        assert status == 503 and is_error(body, "web_libraries_full"), body
        status, answer = server.post("/v1/ask", {"question": "When does the ferry return?",
                                                 "session": added["session"]})
        assert status == 200 and "Monday" in answer["quotes"][0]["text"]
    assert len(list(tmp_path.glob("web-*"))) == 1


def test_an_add_whose_client_hung_up_once_it_ran_is_finished_and_logged_as_it_ended(
        tmp_path: Path) -> None:
    """Catches: an add under way in its adding process when its client hangs up is finished
    (the library changes) but logged and counted as 499, so that no line says the document
    was added."""
    import socket

    text = " ".join(f"Ledger entry {n} records the sale of boat {n} to the harbour master of "
                    f"Kelsey Bay for {n * 7} pounds." for n in range(40_000))
    body = json.dumps({"text": text, "title": "Ledger"}).encode()
    with serve(env=keyed_env(tmp_path)) as server:
        assert call(server, "POST", "/v1/libraries/warm/docs", {"text": "Ferries run."},
                    AUTH)[0] == 201  # the adding processes are up
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"POST /v1/libraries/ledger/docs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nAuthorization: Bearer "
                         + KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            # The text is read and the add holds the library: it runs in its process.
            assert wait_until(lambda: (tmp_path / "ledger").is_dir(), 20, 0.01), (
                sorted(p.name for p in tmp_path.iterdir()), server.log()[-3000:])
        route = {"route": "/v1/libraries/{name}/docs", "method": "POST"}
        assert wait_until(lambda: server.metric("quotebot_http_requests_total", **route,
                                                status="201") == 2
                          or server.metric("quotebot_http_requests_total", **route,
                                           status="499") == 1, 90, 0.05)
        counted = {status: server.metric("quotebot_http_requests_total", **route,
                                         status=status) for status in ("201", "499")}
        log = server.log()
        status, listed, _ = call(server, "GET", "/v1/libraries/ledger/docs", headers=AUTH)
    assert status == 200 and [d["title"] for d in listed["documents"]] == ["Ledger"]
    assert counted == {"201": 2, "499": 0}, counted
    assert "Traceback" not in log
