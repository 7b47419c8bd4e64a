"""Each Telegram chat's own articles, through `quotebot telegram` polling a local fake of the
Bot API: a link or a document becomes an article of that chat, acknowledged with its title,
its size and questions it answers; the chat is answered from it (and from the server's
article when it does not say); no other chat sees it; /library and /forget manage it."""

from __future__ import annotations

import contextlib
import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_bot_api import BOT_USERNAME, FakeBotApi
from pages import FIXTURES, NEWS_PAGE, PageSite, article_page, page_site
from servers import stop

pytestmark = pytest.mark.slow

TITLE = "Kelsey Bay votes to rebuild its sea wall after winter storms"


def plain(message: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", message))


@contextlib.contextmanager
def polling_bot(api: FakeBotApi, data_dir: Path, **env: str) -> Iterator[subprocess.Popen[str]]:
    full_env = dict(os.environ, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=api.base_url,
                    PYTHONUNBUFFERED="1", QUOTEBOT_SEMANTIC="off",
                    QUOTEBOT_DATA_DIR=str(data_dir), **env)
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "telegram"], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        assert api.wait_for(lambda a: any(c[0] == "getUpdates" for c in a.calls), 60), \
            "the bot never polled"
        yield proc
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    ferry = article_page("Ferry returns to Kelsey Bay", [
        "The ferry to Kelsey Bay returns on Monday after six weeks of repairs to its engine.",
        "Captain Ines Moreau said the crossing would take forty minutes."])
    odd = article_page("Odd", ["A page whose server names a charset nobody can decode."])
    with page_site({"/ferry": (ferry, "text/html"), "/odd": (odd, "text/html; charset=idna"),
                    "/undefined": (odd, "text/html; charset=undefined")}) as pages:
        yield pages


@pytest.fixture(scope="module")
def bot(site: PageSite, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[FakeBotApi, Path]]:
    data_dir = tmp_path_factory.mktemp("data")
    with FakeBotApi() as api, polling_bot(api, data_dir, QUOTEBOT_ALLOW_PRIVATE_URLS="1",
                                          QUOTEBOT_CHAT_MAX_DOCS="2", QUOTEBOT_RATE_LIMIT_CHAT="0",
                                          QUOTEBOT_MAX_DOCUMENT_MB="1"):
        yield api, data_dir


def reply_after(api: FakeBotApi, chat: int, update: dict[str, Any], timeout: float = 60
                ) -> dict[str, Any]:
    """Push ``update`` and return the next message the bot sends to ``chat``."""
    before = len(api.sent_to(chat))
    api.push(update)
    assert api.wait_for(lambda a: len(a.sent_to(chat)) > before, timeout), "no reply"
    return api.sent_to(chat)[before]


def test_a_link_becomes_the_chats_article_and_is_answered_from_it(
        bot: tuple[FakeBotApi, Path], site: PageSite) -> None:
    api, data_dir = bot
    ack = reply_after(api, 31, api.message_update(31, site.url("/news/sea-wall")))
    assert plain(ack["text"]).startswith(f"Added {TITLE}: 13 sentences. Ask me anything")
    buttons = [row[0] for row in ack["reply_markup"]["inline_keyboard"]]
    assert len(buttons) == 3
    assert all(re.fullmatch(r"lq:[A-Za-z0-9_-]{8}", b["callback_data"]) for b in buttons)
    # A suggested question is one the article answers.
    answer = reply_after(api, 31, api.callback_update(31, buttons[0]["callback_data"],
                                                      message_id=ack["message_id"]))
    assert plain(answer["text"]).startswith(buttons[0]["text"])
    # Its citation names the article and links to the page it came from.
    assert f'<i><a href="{site.url("/news/sea-wall")}">{TITLE} ¶ ' in answer["text"]
    answer = reply_after(api, 31, api.message_update(31, "Who is the harbour master?"))
    assert "Tom Okafor" in answer["text"].split("</blockquote>")[0]
    # ... and the section the quote is in, as the page's heading has it.
    assert f"{TITLE} › Who pays for the wall ¶ 9" in plain(answer["text"])
    answer = reply_after(api, 31, api.message_update(31, "What did the council vote for?"))
    more = answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert more.startswith("morel:")
    continued = reply_after(api, 31, api.callback_update(31, more,
                                                         message_id=answer["message_id"]))
    # More gives the article's next passages, not the first ones again.
    assert continued["text"].count(f'<a href="{site.url("/news/sea-wall")}">') == 3
    assert set(re.findall(r"<blockquote>(.*?)</blockquote>", continued["text"])).isdisjoint(
        re.findall(r"<blockquote>(.*?)</blockquote>", answer["text"]))
    # What the article does not say comes from the server's own article.
    corpus = reply_after(api, 31, api.message_update(31, "how many stabbings?"))
    assert "with 72 fatal" in corpus["text"]
    # Another chat never sees the first chat's article.
    other = reply_after(api, 32, api.message_update(32, "Who is the harbour master?"))
    assert "Tom Okafor" not in plain(other["text"])
    assert (data_dir / "tg-31").is_dir() and not (data_dir / "tg-32").exists()
    assert api.rejected == []


def test_documents_are_downloaded_from_the_bot_api_and_added(
        bot: tuple[FakeBotApi, Path]) -> None:
    api, _ = bot
    pdf = api.document((FIXTURES / "river-report.pdf").read_bytes(), "river-report.pdf",
                       mime_type="application/pdf")
    ack = reply_after(api, 33, api.message_update(33, None, document=pdf))
    assert plain(ack["text"]).startswith("Added The River Report: ")
    assert api.downloads[-1:] == [api.files[pdf["file_id"]][0]]
    answer = reply_after(api, 33, api.message_update(33, "How much will the repairs cost?"))
    assert "£380,000" in plain(answer["text"])
    page = api.document(NEWS_PAGE.read_bytes(), "sea-wall.html")
    ack = reply_after(api, 33, api.message_update(33, None, document=page,
                                                  caption="our local news"))
    assert plain(ack["text"]).startswith(f"Added {TITLE}")
    # Refused politely, and a file over the size cap is never downloaded.
    word = api.document(b"PK\x03\x04 a word file", "minutes.docx")
    refused = reply_after(api, 34, api.message_update(34, None, document=word))
    assert refused["text"] == "I can read .txt, .md, .html and .pdf documents, not .docx files."
    huge = api.document(b"x" * 100, "huge.pdf", file_size=3 * 1024 * 1024)
    refused = reply_after(api, 34, api.message_update(34, None, document=huge))
    assert refused["text"] == "That file is 3.0 MB; I read files of up to 1.0 MB."
    scan = api.document((FIXTURES / "scanned-notice.pdf").read_bytes(), "notice.pdf")
    refused = reply_after(api, 34, api.message_update(34, None, document=scan))
    assert refused["text"].startswith("Sorry — ") and "OCR" in refused["text"]
    assert [api.files[d["file_id"]][0] in api.downloads for d in (word, huge, scan)] == [
        False, False, True]


def test_start_help_and_an_empty_message_offer_questions_the_chats_own_articles_answer(
        bot: tuple[FakeBotApi, Path], site: PageSite) -> None:
    api, _ = bot
    chat = 44
    before = reply_after(api, chat, api.message_update(chat, "/start"))
    corpus_questions = [row[0]["text"] for row in before["reply_markup"]["inline_keyboard"]]
    reply_after(api, chat, api.message_update(chat, site.url("/news/sea-wall")))
    start = reply_after(api, chat, api.message_update(chat, "/start"))
    assert plain(start["text"]).startswith(f"Hello! I answer questions about your article "
                                           f"“{TITLE}”")
    buttons = [row[0] for row in start["reply_markup"]["inline_keyboard"]]
    assert len(buttons) >= 2
    assert not {b["text"] for b in buttons} & set(corpus_questions)
    assert all(re.fullmatch(r"lq:[A-Za-z0-9_-]{8}", b["callback_data"]) for b in buttons)
    for button in buttons:  # each is answered by quoting the chat's article
        answer = reply_after(api, chat, api.callback_update(chat, button["callback_data"],
                                                            message_id=start["message_id"]))
        assert plain(answer["text"]).startswith(button["text"])
        assert f'<a href="{site.url("/news/sea-wall")}">{TITLE}' in answer["text"]
    help_ = plain(reply_after(api, chat, api.message_update(chat, "/help"))["text"])
    assert f"your article “{TITLE}”" in help_ and buttons[0]["text"] in help_
    assert "stabbings" not in help_ + plain(start["text"])


def test_an_edited_document_sent_again_replaces_its_earlier_version(
        bot: tuple[FakeBotApi, Path]) -> None:
    api, data_dir = bot
    chat = 45
    first = api.document(b"Harbour notes\nThe ferry leaves Kelsey Bay at nine.\n", "notes.txt")
    ack = reply_after(api, chat, api.message_update(chat, None, document=first))
    assert plain(ack["text"]).startswith("Added Harbour notes: ")
    edited = api.document(b"Harbour notes\nThe ferry leaves Kelsey Bay at ten.\n", "notes.txt")
    again = reply_after(api, chat, api.message_update(chat, None, document=edited))
    assert plain(again["text"]).startswith("Added Harbour notes (the new version): ")
    listed = plain(reply_after(api, chat, api.message_update(chat, "/library"))["text"])
    assert listed.split("\n")[:2] == ["Your articles (1 of 2):", "1. Harbour notes (2 sentences)"]
    assert [p.name for p in (data_dir / f"tg-{chat}").glob("*.txt")] == ["notes.txt"]
    answer = plain(reply_after(api, chat, api.message_update(
        chat, "When does the ferry leave Kelsey Bay?"))["text"])
    assert "at ten" in answer and "at nine" not in answer


def test_library_lists_forget_removes_and_the_limit_is_polite(
        bot: tuple[FakeBotApi, Path], site: PageSite) -> None:
    api, _ = bot
    chat = 35
    empty = reply_after(api, chat, api.message_update(chat, "/library"))
    assert "not added any articles yet" in empty["text"]
    reply_after(api, chat, api.message_update(chat, site.url("/news/sea-wall")))
    missing = reply_after(api, chat, api.message_update(chat, site.url("/missing")))
    assert missing["text"] == ("Sorry — 127.0.0.1 answered 404 Not Found: the page could not "
                               "be fetched.")
    reply_after(api, chat, api.message_update(chat, site.url("/ferry")))
    listed = plain(reply_after(api, chat, api.message_update(chat, "/library"))["text"])
    assert listed.split("\n") == [
        "Your articles (2 of 2):", f"1. {TITLE} (13 sentences)",
        "2. Ferry returns to Kelsey Bay (3 sentences)", "/forget N removes article N."]
    over = reply_after(api, chat, api.message_update(chat, "https://example.org/third"))
    assert over["text"] == ("Sorry — your library is full: it holds 2 articles, the most a "
                            "chat may. /library lists them, /forget N removes one.")
    pdf = api.document(b"%PDF-1.4 never read", "report.pdf")
    over = reply_after(api, chat, api.message_update(chat, None, document=pdf))
    assert "library is full" in over["text"]
    assert api.files[pdf["file_id"]][0] not in api.downloads
    bad = reply_after(api, chat, api.message_update(chat, "/forget 7"))
    assert "from 1 to 2" in bad["text"]
    gone = reply_after(api, chat, api.message_update(chat, "/forget 1"))
    assert plain(gone["text"]) == f"Forgot {TITLE}."
    answer = reply_after(api, chat, api.message_update(chat, "Who is the harbour master?"))
    assert "Tom Okafor" not in plain(answer["text"])
    answer = reply_after(api, chat, api.message_update(chat, "Who is the captain?"))
    assert "Ines Moreau" in plain(answer["text"])


def test_in_groups_only_links_and_documents_meant_for_the_bot_are_added(
        bot: tuple[FakeBotApi, Path], site: PageSite) -> None:
    api, data_dir = bot
    group = -400
    api.push(api.message_update(group, site.url("/ferry"), chat_type="group"))
    page = api.document(NEWS_PAGE.read_bytes(), "sea-wall.html")
    api.push(api.message_update(group, None, chat_type="group", document=page))
    ack = reply_after(api, group, api.message_update(
        group, f"@{BOT_USERNAME} {site.url('/ferry')}", chat_type="group"))
    assert plain(ack["text"]).startswith("Added Ferry returns to Kelsey Bay")
    assert len(api.sent_to(group)) == 1
    assert [p.name for p in (data_dir / f"tg-{group}").glob("*.txt")] == [
        "ferry.txt"]


def test_a_private_address_is_refused_unless_the_operator_allows_it(
        site: PageSite, tmp_path: Path) -> None:
    fetched = site.hits.get("/news/sea-wall", 0)
    with FakeBotApi() as api, polling_bot(api, tmp_path):
        refused = reply_after(api, 41, api.message_update(41, site.url("/news/sea-wall")))
        commands = [c["command"] for c in api.commands or []]
    assert refused["text"].startswith("Sorry — quotebot does not fetch from 127.0.0.1")
    assert site.hits.get("/news/sea-wall", 0) == fetched
    assert commands == ["start", "help", "more", "sources", "library", "forget"]
    assert not any(tmp_path.iterdir())


def test_a_file_larger_than_telegram_said_is_read_no_further_than_the_cap(
        bot: tuple[FakeBotApi, Path]) -> None:
    api, data_dir = bot
    lying = api.lying_document("notes.txt", claimed=1000, served=64 * 2**20)
    refused = reply_after(api, 36, api.message_update(36, None, document=lying))
    assert refused["text"] == "Sorry — that file is over 1.0 MB, the most I read."
    # What the bot read of the 64 MiB: its 1 MB cap and what the sockets buffer.
    assert api.served[api.files[lying["file_id"]][0]] < 16 * 2**20
    assert not list(data_dir.glob("tg-36/*.txt"))


@pytest.mark.parametrize("path", ["/odd", "/undefined"])
def test_a_page_in_a_charset_nobody_can_decode_is_one_polite_sentence(
        bot: tuple[FakeBotApi, Path], site: PageSite, path: str) -> None:
    api, _ = bot
    refused = reply_after(api, 37, api.message_update(37, site.url(path)))
    assert refused["text"].startswith("Sorry — ") and "cannot be read" in refused["text"]
    assert "went wrong" not in refused["text"]


def test_a_chat_adding_and_asking_about_a_hostile_article_never_holds_another_chats_answer(
        bot: tuple[FakeBotApi, Path]) -> None:
    api, _ = bot
    # 60 KB: one "sentence" repeating the noun it is asked about.
    text = "The report counted" + " stabbings" * 6000 + ".\n"
    article = api.document(text.encode(), "stabbings.txt")
    api.push(api.message_update(38, None, document=article))
    api.push(api.message_update(38, "how many stabbings were there in the stabbings report?"))
    asked = reply_after(api, 39, api.message_update(39, "Who is the deputy mayor for policing?"),
                        timeout=15)
    assert "Sophie Linden met senior NYPD officials" in asked["text"]
    assert api.wait_for(lambda a: len(a.sent_to(38)) >= 2, 120)


def test_a_chat_sending_a_pdf_of_more_text_than_its_library_holds_is_refused_at_that_size(
        tmp_path: Path) -> None:
    """A 310 KB PDF of 2,000 pages sharing one content stream holds 60 MB of text: a chat's
    library holds 1 MB here, so reading stops there, not at the 10 MB a file may have."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pdfs", FIXTURES / "make_pdfs.py")
    assert spec is not None and spec.loader is not None
    make_pdfs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_pdfs)
    book = make_pdfs.shared_stream_pdf(2000, 560)
    with FakeBotApi() as api, polling_bot(api, tmp_path, QUOTEBOT_CHAT_MAX_MB="1",
                                          QUOTEBOT_RATE_LIMIT_CHAT="0"):
        refused = reply_after(api, 42, api.message_update(
            42, None, document=api.document(book, "book.pdf")), timeout=120)
    assert refused["text"].startswith("Sorry — ") and " 1.0 MB of text" in refused["text"], \
        refused["text"]
    assert not list(tmp_path.glob("tg-42/*.pdf"))
