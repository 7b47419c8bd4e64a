"""Which library a chat, a web page session or an API client reaches, as pure rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quotebot.bot.libraries import (
    InvalidLibraryName,
    chat_library,
    check_name,
    session_library,
)
from quotebot.errors import QuotebotError
from quotebot.models import Document


def test_a_chats_library_is_named_by_its_chat_and_is_quotebots_own() -> None:
    assert chat_library(-100123) == "tg--100123" != chat_library(100123)
    assert check_name(chat_library(-100123), reserved_ok=True) == "tg--100123"
    with pytest.raises(InvalidLibraryName):
        check_name(chat_library(-100123))


def test_a_web_page_sessions_library_never_shows_the_session_id() -> None:
    first, second = session_library("alpha-session-1"), session_library("alpha-session-2")
    assert first != second and first == session_library("alpha-session-1")
    assert first.startswith("web-") and "alpha" not in first and len(first) == 4 + 32
    assert check_name(first, reserved_ok=True) == first
    with pytest.raises(InvalidLibraryName):
        check_name(first)


@pytest.mark.parametrize("name", ["news", "a", "team_2-notes", "x" * 64])
def test_an_api_client_may_name_its_library(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "News", "-news", "news/../x", "x" * 65, "tg-5", "web-abc",
                                  "new s"])
def test_other_names_are_refused_in_one_sentence(name: str) -> None:
    with pytest.raises(InvalidLibraryName) as refused:
        check_name(name)
    assert refused.value.message.endswith(".") and "\n" not in refused.value.message


@pytest.mark.parametrize(("code", "status"), [
    ("document_too_large", 413), ("file_too_large", 413), ("unsupported_file", 415),
    ("corpus_empty", 422),
])
def test_an_extraction_error_gets_the_status_of_what_the_client_sent(code: str,
                                                                      status: int) -> None:
    from quotebot.bot.libraries import extracted
    from quotebot.errors import CorpusError

    def extract() -> Document:
        raise CorpusError("That document is not one quotebot can take.", code=code)

    with pytest.raises(CorpusError) as info:
        extracted(extract)
    assert (info.value.code, info.value.http_status) == (code, status)


def test_a_refused_name_is_quoted_in_the_message_and_a_long_one_cut_short() -> None:
    with pytest.raises(InvalidLibraryName) as short:
        check_name("News")
    assert short.value.message.startswith("'News' is not a library name: use 1-64 lower-case")
    assert short.value.message.endswith("starting with a letter or digit.")
    long = "N" * 70 + "tail"
    with pytest.raises(InvalidLibraryName) as cut:
        check_name(long)
    assert f"{'N' * 70 + '…'!r} is not a library name" in cut.value.message
    assert "tail" not in cut.value.message
    one_more = "N" * 71
    with pytest.raises(InvalidLibraryName) as over:
        check_name(one_more)
    assert over.value.message.startswith(f"{'N' * 70 + '…'!r} is not")
    exactly = "N" * 70
    with pytest.raises(InvalidLibraryName) as whole:
        check_name(exactly)
    assert whole.value.message.startswith(f"{exactly!r} is not")
    with pytest.raises(InvalidLibraryName) as reserved:
        check_name("tg-news")
    assert reserved.value.message == (
        "Library names starting with tg- or web- are quotebot's own (chats' and web pages' "
        "libraries); choose another name.")


def test_a_document_sent_as_text_is_titled_by_its_first_line_unless_a_title_is_given() -> None:
    from quotebot.bot.libraries import text_document

    sent = text_document("Ferry news\r\nThe ferry sails again on Monday.\r\n", None, None)
    assert sent.title == "Ferry news" and "\r" not in sent.text and sent.url == ""
    titled = text_document("The ferry sails again on Monday.\n", "  Ferry \n times ",
                           "https://example.org/ferry")
    assert titled.title == "Ferry times" and titled.url == "https://example.org/ferry"
    assert text_document("Ferry news\nThe ferry sails.\n", "   ", None).title == "Ferry news"


def test_a_page_that_cannot_be_decoded_or_holds_no_text_is_refused_as_the_clients() -> None:
    from quotebot.bot.libraries import UnreadablePage, extracted
    from quotebot.errors import QuotebotError

    def undecodable() -> Document:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(UnreadablePage) as unreadable:
        extracted(undecodable)
    assert unreadable.value.message == (
        "That page cannot be read: its text is in an encoding that cannot be decoded. Send it "
        "as a .txt or .pdf file instead.")
    with pytest.raises(QuotebotError) as empty:
        extracted(lambda: Document("blank", "Blank", " \n\t\n"))
    assert (empty.value.code, empty.value.http_status) == ("corpus_empty", 422)
    assert empty.value.message == "That page or file has no text in it."
    doc = Document("ferry", "Ferry", "The ferry sails on Monday.\n")
    assert extracted(lambda: doc) is doc


def test_a_conversation_keeps_its_library_state_apart_from_its_corpus_state() -> None:
    from quotebot.bot.libraries import library_key

    assert library_key("tg:5") == "tg:5:lib" != library_key("tg:6")


@pytest.fixture(scope="module")
def library_and_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from conftest import engine_over

    library = engine_over(tmp_path_factory.mktemp("library"), "ferry.txt",
                          "Ferry News\n\nThe Kelsey Bay ferry sails again on Monday after "
                          "repairs.\n\nIts new engine cost 2 million pounds.\n\n"
                          "The harbour master said the ferry carries 300 passengers.\n")
    corpus = engine_over(tmp_path_factory.mktemp("corpus"), "tram.txt",
                         "Tram News\n\nThe tram line to Northport opens in 2027.\n\n"
                         "The tram depot was built by 40 workers.\n\n"
                         "Councillor Karin Ek said the tram would be free on Sundays.\n")
    return library, corpus


def test_a_question_is_asked_of_the_library_first_then_of_the_corpus(
        library_and_corpus: tuple[Any, Any]) -> None:
    from quotebot.bot.libraries import take_turn
    from quotebot.session import SessionState

    library, corpus = library_and_corpus
    empty = SessionState()
    # A library's answer ends what the corpus was asked before.
    ferry = take_turn(library, corpus, empty, SessionState(question="When does the tram open?"),
                      "When does the ferry sail again?")
    assert ferry.source == "library" and ferry.answer.answered
    assert ferry.answer.quotes[0].doc == "ferry"
    assert ferry.library_state.question is not None and ferry.corpus_state.question is None
    # The corpus answers what the library does not; the library's "more" is then over.
    tram = take_turn(library, corpus, ferry.library_state, ferry.corpus_state,
                     "When does the tram line open?")
    assert tram.source == "corpus" and tram.answer.answered
    assert tram.answer.quotes[0].doc == "tram"
    assert tram.library_state.question is None and tram.corpus_state.question is not None
    # "more" goes on where the last answer came from.
    more = take_turn(library, corpus, tram.library_state, tram.corpus_state, "more")
    assert more.source == "corpus" and more.library_state is tram.library_state
    assert more.corpus_state.question == tram.corpus_state.question
    more_ferry = take_turn(library, corpus, ferry.library_state, ferry.corpus_state, "more")
    assert more_ferry.source == "library" and more_ferry.corpus_state is ferry.corpus_state
    assert more_ferry.library_state.question == ferry.library_state.question
    assert all(q.doc == "ferry" for q in more_ferry.answer.quotes)


def test_when_neither_answers_the_reason_is_about_the_library(
        library_and_corpus: tuple[Any, Any]) -> None:
    from quotebot.bot.libraries import take_turn
    from quotebot.session import SessionState

    library, corpus = library_and_corpus
    asked = take_turn(library, corpus, SessionState(), SessionState(question="old"),
                      "What is the capital of France?")
    assert asked.source == "library" and not asked.answer.answered
    assert asked.corpus_state.question is None and isinstance(asked.library_state, SessionState)


def test_without_a_library_the_corpus_answers(library_and_corpus: tuple[Any, Any]) -> None:
    from quotebot.bot.libraries import take_turn
    from quotebot.session import SessionState

    _, corpus = library_and_corpus
    lib_state = SessionState(question="kept")
    turn = take_turn(None, corpus, lib_state, SessionState(), "When does the tram line open?")
    assert turn.source == "corpus" and turn.answer.answered
    assert turn.library_state is lib_state and turn.corpus_state.question is not None


def test_dropping_a_library_keeps_a_file_someone_else_put_there(tmp_path: Path) -> None:
    from quotebot.bot.libraries import drop_library
    from quotebot.library import Library

    mine = tmp_path / "mine"
    Library(mine).add([Document("ferry", "Ferry", "The ferry sails on Monday.\n")],
                      semantic="off")
    drop_library(str(mine))
    assert not mine.exists()
    shared = tmp_path / "shared"
    Library(shared).add([Document("ferry", "Ferry", "The ferry sails on Monday.\n")],
                        semantic="off")
    # A file of someone's among quotebot's documents: the next add indexes it between them.
    (shared / "a-notes.txt").write_text("My own notes.\n", encoding="utf-8")
    Library(shared).add([Document("tide", "Tide", "The tide was high on Sunday.\n")],
                        semantic="off")
    assert [d.id for d in Library(shared).documents()] == ["ferry", "a-notes", "tide"]
    (shared / "z-notes.txt").write_text("My own notes.\n", encoding="utf-8")
    drop_library(str(shared))
    from quotebot.store.catalogue import LIBRARY_INDEX

    left = sorted(p.name for p in shared.iterdir() if not p.name.startswith(".quotebot"))
    assert left == ["a-notes.txt", "z-notes.txt"]  # quotebot's documents gone, whatever order
    assert not (shared / LIBRARY_INDEX).exists()  # no longer a library: its index goes
    drop_library(str(tmp_path / "never-was"))  # nothing there: nothing to do


@pytest.mark.parametrize("k", [1, 2])
def test_a_turn_gives_as_many_quotes_as_asked_wherever_it_is_answered(
        library_and_corpus: tuple[Any, Any], k: int) -> None:
    from quotebot.bot.libraries import take_turn
    from quotebot.session import SessionState

    library, corpus = library_and_corpus
    empty = SessionState()
    turns = [take_turn(library, corpus, empty, empty, "ferry", k),
             take_turn(library, corpus, empty, empty, "tram", k),
             take_turn(None, corpus, empty, empty, "tram", k)]
    turns.append(take_turn(library, corpus, turns[0].library_state, empty, "more", k))
    turns.append(take_turn(library, corpus, empty, turns[1].corpus_state, "more", k))
    assert [t.source for t in turns] == ["library", "corpus", "corpus", "library", "corpus"]
    assert [len(t.answer.quotes) for t in turns[:3]] == [k] * 3
    assert all(1 <= len(t.answer.quotes) <= k for t in turns[3:])  # what is left, up to k



def test_an_add_of_one_document_gives_it_or_raises_its_refusal(tmp_path: Path) -> None:
    from quotebot.bot.libraries import single
    from quotebot.library import Library, LibraryLimits

    library = Library(tmp_path, LibraryLimits(max_document_bytes=60))
    added = single(library.add([Document("ferry", "Ferry", "The ferry sails on Monday.\n")],
                               semantic="off"))
    assert added.doc == "ferry"
    long = Document("log", "Log", "The ferry sailed again and again that week. " * 5)
    with pytest.raises(QuotebotError) as refused:
        single(library.add([long], semantic="off"))
    assert refused.value.code == "document_too_large"
