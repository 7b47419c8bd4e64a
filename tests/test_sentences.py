"""Sentence splitting keeps exact offsets: every sentence slices back out of its document."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from quotebot.corpus import load_corpus
from quotebot.lexicon import ABBREVIATIONS
from quotebot.models import Document
from quotebot.punkt import sentence_spans
from quotebot.sentences import (
    HEADING,
    heading_at,
    paragraph_kinds,
    paragraph_spans,
    split_document,
)


@pytest.fixture(scope="module")
def article() -> Document:
    return load_corpus()[0]


def split(text: str) -> list[str]:
    return [s.text for s in split_document(Document(id="t", title="T", text=text))]


def test_the_article_has_18_sentences_that_slice_back(article: Document) -> None:
    sentences = split_document(article)
    assert len(sentences) == 18
    assert [s.sentence for s in sentences] == list(range(1, 19))
    for s in sentences:
        assert article.text[s.start:s.end] == s.text
        assert s.doc == "met-police-nypd-visit"


def test_the_stabbings_sentence_is_where_the_design_says(article: Document) -> None:
    stabbings = next(s for s in split_document(article) if "72 fatal stabbings" in s.text)
    assert (stabbings.paragraph, stabbings.sentence) == (9, 15)
    assert (stabbings.start, stabbings.end) == (2208, 2351)


def test_paragraphs_are_lines_numbered_from_one(article: Document) -> None:
    sentences = split_document(article)
    assert sentences[0].paragraph == 1
    assert sentences[-1].paragraph == len([ln for ln in article.text.splitlines() if ln.strip()])
    for s in sentences:
        line = article.text.splitlines()[s.paragraph - 1]
        assert s.text in line


def test_a_quote_across_a_line_break_stays_two_sentences(article: Document) -> None:
    sentences = split_document(article)
    end_of_5 = [s for s in sentences if s.paragraph == 5][-1]
    start_of_6 = next(s for s in sentences if s.paragraph == 6)
    assert end_of_5.text.endswith("that wasn’t there before.")
    assert start_of_6.text == "“People are really engaged with programmes who wouldn’t have " \
                              "been before.”"


def test_titles_abbreviations_ellipses_and_numbers_do_not_split(article: Document) -> None:
    texts = [s.text for s in split_document(article)]
    assert any(t.startswith("Ms Linden said: “It is important") for t in texts)
    assert any("you know ... razzmatazz" in t for t in texts)
    assert any("nearly 15,000 offences" in t for t in texts)
    assert split("Mr. Brown met Dr. Smith at St. Paul's. They talked.") == [
        "Mr. Brown met Dr. Smith at St. Paul's.", "They talked."]
    assert split("Room No. 5 was empty. It cost 3.5 million.") == [
        "Room No. 5 was empty.", "It cost 3.5 million."]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split("He said: “We won.” Then he left.") == ["He said: “We won.”", "Then he left."]


def test_windows_line_endings_blank_lines_and_indentation() -> None:
    text = "  First line here.\r\n\r\n\tSecond paragraph. Two sentences.\r\n"
    doc = Document(id="t", title="T", text=text)
    sentences = split_document(doc)
    assert [s.text for s in sentences] == ["First line here.", "Second paragraph.",
                                           "Two sentences."]
    assert [s.paragraph for s in sentences] == [1, 2, 2]
    assert all(text[s.start:s.end] == s.text for s in sentences)


def test_text_without_words_has_no_sentences() -> None:
    assert split("…\n---\n  \n!!!") == []
    assert split("") == []


@pytest.mark.parametrize("text", [
    None,  # the shipped article
    "Mr. Brown met Dr. Smith at St. Paul's. They talked.  Then they left.\n"
    "He said: “We won.” Then he left. “Really?” she asked. 3 days later, nothing.\r\n"
    "  Room No. 5 was empty. It cost 3.5 million… Or so they say.  ",
])
def test_sentences_and_the_whitespace_between_them_rebuild_each_line(
        article: Document, text: str | None) -> None:
    """Catches: a splitter that loses or shifts characters where sentences meet, such as
    one that drops the first character of every later sentence of a paragraph (each
    sentence still slices back to its own offsets, so only rebuilding the line shows it)."""
    text = article.text if text is None else text
    sentences = split_document(Document(id="t", title="T", text=text))
    lines = [line for line in text.splitlines() if line.strip()]
    assert {s.paragraph for s in sentences} == set(range(1, len(lines) + 1))
    position = 0
    for number, line in enumerate(lines, start=1):
        position = text.index(line, position)
        mine = [s for s in sentences if s.paragraph == number]
        rebuilt = text[position:mine[0].start]
        assert rebuilt.strip() == "", f"{rebuilt!r} lost before {mine[0].text!r}"
        for before, after in zip(mine, [*mine[1:], None], strict=True):
            gap = text[before.end:after.start if after else position + len(line)]
            assert gap.strip() == "", f"{gap!r} lost after {before.text!r}"
            rebuilt += before.text + gap
        assert rebuilt == line
        position += len(line)


def paragraphs(text: str) -> list[str]:
    return [text[start:end] for start, end in paragraph_spans(text)]


def test_a_markdown_heading_is_quoted_without_its_marks() -> None:
    """Catches: a heading's opening or closing ``#`` marks kept in the paragraph (and so in
    a quote), a line of marks alone taken for a paragraph, and a ``#`` that opens a word
    ("#1", "#hashtag") taken for a heading."""
    text = ("# Ferries of York\n"
            "## Timetable ##\n"
            "  ### Fares \t###  \n"
            "######\n"
            "## ##\n"
            "#1 in the city, the ferry sails daily.\n"
            "#### A heading that ends in C#\n")
    assert paragraphs(text) == ["Ferries of York", "Timetable", "Fares",
                                "#1 in the city, the ferry sails daily.",
                                "A heading that ends in C#"]
    assert [s.paragraph for s in split_document(Document("t", "T", text))] == [1, 2, 3, 4, 5]


def test_blank_lines_and_spaces_at_either_end_are_no_part_of_a_paragraph() -> None:
    """Catches: a line of spaces counted as a paragraph (so the paragraphs after it are
    misnumbered), and one character too many or too few stripped at either end, even when
    the line ends in a one-letter word or the text in spaces."""
    text = "Vote for plan B\n   \n\t\n It rained. \nIt was cold.\t \n   "
    assert paragraphs(text) == ["Vote for plan B", "It rained.", "It was cold."]
    sentences = split_document(Document("t", "T", text))
    assert [(s.paragraph, s.text) for s in sentences] == [
        (1, "Vote for plan B"), (2, "It rained."), (3, "It was cold.")]


def test_a_sentence_without_words_is_dropped_and_the_next_one_kept() -> None:
    """Catches: words looked for beyond a sentence's end (so that "* * *" before a line with
    words counts as a sentence), and the rest of a paragraph dropped after a sentence
    without words."""
    text = "* * *\n... ! The ferry sank. It was cold.\n"
    assert split(text) == ["The ferry sank.", "It was cold."]


def test_a_sentence_is_in_a_heading_when_its_paragraph_is_one() -> None:
    """Catches: a heading told from the wrong line (the one before or after, a ``\\r``
    line end missed), or a line of ``#1`` text, or of marks alone, taken for a heading."""
    text = ("# Ferries of York\r\n"
            "The ferry sails daily. It is cheap.\n"
            "## Timetable ##\n"
            "######\n"
            "#1 in the city. Boats leave at noon.\r"
            "  ### Fares \t###  \n"
            "Adults pay two pounds.")
    kinds = paragraph_kinds(text)
    sentences = split_document(Document("t", "T", text))
    assert [heading_at(text, s.start) for s in sentences] == [
        kinds[s.paragraph - 1] == HEADING for s in sentences]
    assert sum(heading_at(text, s.start) for s in sentences) == 3


def test_sentences_end_where_nltks_own_punkt_ends_them() -> None:
    """Sentence ends are Punkt's: the same spans as NLTK's stock tokenizer with the same
    abbreviations, on text full of the cases its patterns decide (quotes after a period,
    initials, numbers, ellipses, abbreviations)."""
    fixtures = Path(__file__).parent / "fixtures"
    texts = [load_corpus()[0].text, (fixtures / "news-article.txt").read_text("utf-8"),
             *(p.read_text("utf-8") for p in sorted((fixtures / "own-articles").rglob("*"))
               if p.suffix in (".txt", ".md")),
             "He said “Stop.” Then he left. ‘Yes.’ She agreed (mostly.) Next!",
             "A.B.C. Corp. went «away». J. R. R. Tolkien wrote it... Did he?! Yes.",
             "It rose 1.5 m. in 2. 3 days. e.g. this one. Dr. Who? No. 7 is St. John's.",
             "»Hallo.« Und dann. 'Quoted.' \"Double.\" [Bracket.] {Brace.} Done -- ok.",
             "Prices: $4.50, 3,000.25 and -1.5. The U.S. economy grew. Mr. Smith agreed."]
    paragraphs = [t[a:b] for t in texts for a, b in paragraph_spans(t)]
    assert len(paragraphs) > 40
    stock = _stock_punkt()
    assert [sentence_spans(p) for p in paragraphs] == [
        list(stock.span_tokenize(p)) for p in paragraphs]


def _stock_punkt() -> Any:
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


#: Pieces of text whose sentence ends Punkt decides by its rules: abbreviations (also
#: after a hyphen), initials, ordinal numbers, ellipses, marks run together, closing
#: quotes and brackets moved onto the sentence before, lower-case and capital starts.
_HARD_PIECES = (
    "Mr. Mrs. Dr. U.S. No. no. e.g. i.e. etc. St. Smith smith the a J. R. Tolkien 3.14 5. "
    "1. 2) 42 -1.5. ... .. . ? ! ?! !!! “ ” \" ' ( ) [ ] « » ‘ ’ ; : , -- a.m. p.m. Inc. "
    "ex-Gov. co-dr. word. Word. end.” it... x.y # ##number##. ##NUMBER##. ١٢. É. é. ß. _. "
    "A.B.C. Corp. - * @ { } & 2. İ. ǅ. . . . x.. 3,000.25 $4.50 (Sent.) “Quote.” -- 7.").split()
_SEPARATORS = [" "] * 8 + ["", "", "  ", "\t", "\u00a0", "\u2003", "\x0b", "\x0c", "\r", "\n",
                             "\u2028"]


def _generated(seed: int, count: int, pieces: Sequence[str],
               separators: Sequence[str]) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        text = "".join(rng.choice(pieces) + rng.choice(separators)
                       for _ in range(rng.randrange(1, 25)))
        texts.append(text.strip() if rng.random() < 0.3 else text)
    return texts


def test_punkts_rules_at_the_candidate_ends_give_nltks_spans_on_generated_text() -> None:
    """Catches: any of Punkt's decisions reproduced wrongly at the candidate ends (an
    abbreviation, an initial before a capital or a lower-case word, an ordinal number,
    an ellipsis, "?!" or "!!!" run together, a closing quote or bracket not moved onto
    its sentence, the word before a candidate taken from the wrong space), on 4,000
    seeded texts of such pieces run together with spaces of every kind."""
    texts = _generated(20261207, 4000, _HARD_PIECES, _SEPARATORS)
    stock = _stock_punkt()
    differ = [t for t in texts if sentence_spans(t) != list(stock.span_tokenize(t))]
    assert differ == []


def test_punkts_patterns_under_the_standard_engine_decide_exotic_text_alike() -> None:
    """Where NLTK's own engine (``regex``) and the standard library's read a character
    differently ("½" is a letter to ``re``, the separators U+001C to U+001F are spaces to it),
    the spans are those of Punkt's patterns under ``re``, which quotebot has always used:
    an index built before splits the same way."""
    from quotebot.punkt import nltk_tokenizer

    texts = _generated(7, 2000, [*_HARD_PIECES, "½.", "¼"], [*_SEPARATORS, "\x1c", "\x1f"])
    reference = nltk_tokenizer()
    differ = [t for t in texts if sentence_spans(t) != list(reference.span_tokenize(t))]
    assert differ == []
