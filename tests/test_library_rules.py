"""Which library a chat, a web page session or an API client reaches, as pure rules."""

from __future__ import annotations

import pytest

from quotebot.bot.libraries import (
    InvalidLibraryName,
    chat_library,
    check_name,
    session_library,
)
from quotebot.models import Document


def test_a_chats_library_is_named_by_its_chat_and_is_quotebots_own() -> None:
    assert chat_library(-100123) == "tg--100123" != chat_library(100123)
    assert check_name(chat_library(-100123), reserved_ok=True) == "tg--100123"
    with pytest.raises(InvalidLibraryName):
        check_name(chat_library(-100123))


def test_a_web_page_sessions_library_never_shows_the_session_id() -> None:
    first, second = session_library("alpha-session-1"), session_library("alpha-session-2")
    assert first != second and first == session_library("alpha-session-1")
    assert first.startswith("web-") and "alpha" not in first
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
