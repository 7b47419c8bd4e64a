"""Telegram HTML from answers: valid as Telegram parses it, never empty, at most three
messages, with nothing from the corpus able to break the markup."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotebot.models import Answer, Quote, ShortAnswer
from quotebot.render import TELEGRAM_MAX_MESSAGES, render_telegram, telegram_length

from fake_bot_api import message_problem


def quote(text: str, n: int = 1, highlights: tuple[tuple[int, int], ...] = (),
          start: int = 100) -> Quote:
    return Quote(text=text, doc="doc", title="Doc", paragraph=1, sentence=n, start=start,
                 end=start + len(text), score=1.0, highlights=highlights)


def shown(message: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", message))


def assert_sendable(messages: list[str]) -> None:
    assert 1 <= len(messages) <= TELEGRAM_MAX_MESSAGES
    for message in messages:
        assert message_problem(message, "HTML") is None, message[:300]
        assert telegram_length(message) <= 4096


def test_control_characters_cannot_break_the_markup() -> None:
    text = "A \x00 b\x01 stabbings \x01\x00 of \x1b[31m 72 \u202e people\x7f here."
    at = text.index("stabbings")
    marks = ((0, 1), (at, at + len("stabbings")), (text.index("72"), text.index("72") + 2))
    messages = render_telegram(Answer("q", True, (quote(text, highlights=marks),)))
    assert_sendable(messages)
    assert "<u>stabbings</u>" in messages[0]
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202e]", messages[0])


def test_a_quote_full_of_markup_characters_is_shortened_never_empty() -> None:
    text = "The answer is 42 & " + '<&"> ' * 5000 + "end."
    answer = Answer("how many?", True, (quote(text, highlights=((14, 16),), start=500),),
                    short=ShortAnswer("42", 514, 516))
    messages = render_telegram(answer)
    assert_sendable(messages)
    assert len(messages) == 1
    body = shown(messages[0])
    assert body.startswith("42\n\nThe answer is 42 &")
    assert body.rstrip().endswith(f"Doc ¶ 1 chars 500–{500 + len(text)}, shortened")
    assert "…" in body


def test_a_citation_names_the_section_and_links_to_where_the_document_came_from() -> None:
    from dataclasses import replace

    text = "The harbour seal numbers 205,000 in Alaska."
    cited = replace(quote(text), title="Harbour seal & <friends>",
                    section=("Population", "By region"), paragraph=7,
                    url='https://example.org/seal?a=1&b="2"')
    message = render_telegram(Answer("how many seals?", True, (cited,)))[0]
    assert_sendable([message])
    assert shown(message).rstrip().endswith("Harbour seal & <friends> › Population › By region ¶ 7")
    assert '<a href="https://example.org/seal?a=1&amp;b=&quot;2&quot;">' in message
    # No link but to a web page; a long title and headings are shortened at a word.
    odd = replace(cited, url="javascript:alert(1)", title="Seals " * 40,
                  section=("Sections " * 20,))
    message = render_telegram(Answer("how many seals?", True, (odd,)))[0]
    assert "<a " not in message
    cite = shown(message).rstrip().rsplit("\n", 1)[-1]
    assert cite.startswith("Seals Seals") and "… › Sections" in cite and cite.endswith("… ¶ 7")
    assert len(cite) < 140


def test_the_shortened_quote_keeps_the_short_answer_in_view() -> None:
    text = "word " * 3000 + "there were 1,234 ferries " + "word " * 3000
    at = text.index("1,234")
    answer = Answer("how many ferries?", True, (quote(text, start=0),),
                    short=ShortAnswer("1,234", at, at + 5))
    messages = render_telegram(answer)
    assert_sendable(messages)
    body = shown(messages[0])
    assert "there were 1,234 ferries" in body
    assert body.count("…") == 2


@pytest.mark.slow
def test_one_answer_is_at_most_three_messages_however_many_long_quotes() -> None:
    quotes = tuple(quote("Ferries & boats <sail> " * 400, n) for n in range(1, 51))
    messages = render_telegram(Answer("q", True, quotes))
    assert_sendable(messages)
    assert "".join(messages).count("Doc ¶ 1 chars 100–") >= 3


def test_wide_characters_count_as_telegram_counts_them() -> None:
    text = "😀" * 3000 + " ferry"
    messages = render_telegram(Answer("q", True, (quote(text),)))
    assert_sendable(messages)


def test_a_long_heading_and_question_stay_within_the_limit() -> None:
    answer = Answer("q", True, (quote("Ferries sail & return."),),
                    resolved_question="&" * 1000, searched_for="<" * 1000)
    messages = render_telegram(answer, heading='"' * 1000)
    assert_sendable(messages)
    assert "Ferries sail &amp; return." in messages[0]


def test_every_kind_of_answer_gives_a_message() -> None:
    for answer in (Answer("q", False), Answer("more", False, continued=True),
                   Answer("q", False, closest=(quote("\x01\x02"),)), Answer("q", True)):
        assert_sendable(render_telegram(answer))


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), min_size=1, max_size=6000),
       marks=st.lists(st.tuples(st.integers(-5, 6000), st.integers(-5, 6000)), max_size=6),
       count=st.integers(1, 6), heading=st.none() | st.text(max_size=1200))
def test_any_text_gives_sendable_messages(text: str, marks: list[tuple[int, int]], count: int,
                                          heading: str | None) -> None:
    spans = tuple((min(a, b), max(a, b)) for a, b in marks)
    quotes = tuple(quote(text, n, spans) for n in range(1, count + 1))
    assert_sendable(render_telegram(Answer("q", True, quotes, short=ShortAnswer(text[:50], 0, 1)),
                                    heading=heading))
