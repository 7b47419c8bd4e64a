"""Properties over arbitrary input: splitting and answering never raise, quotes slice back."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quotebot.analysis import tokenize
from quotebot.engine import QuoteEngine
from quotebot.errors import InvalidQuestion
from quotebot.models import Document
from quotebot.sentences import MAX_SENTENCE_CHARS, split_document

pytestmark = pytest.mark.slow

# Text with the awkward parts of Unicode: RTL scripts, emoji, combining marks, NUL,
# line and paragraph separators, curly quotes, ellipses and abbreviations.
AWKWARD = st.sampled_from(
    ["مرحبا بالعالم.", "שלום.", "👩‍👩‍👧 family.", "e\u0301te\u0301.", "\x00", "\u2028", "\u2029",
     "“Quoted.”", "…", "Mr. Smith.", "No. 5.", "15,000.", "\r\n", "\n\n", "   ", "\t", "ﬁ"]
)
TEXT = st.lists(st.one_of(st.text(max_size=40), AWKWARD), max_size=30).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_splitting_never_raises_and_every_sentence_slices_back(text: str) -> None:
    doc = Document(id="d", title="D", text=text)
    sentences = split_document(doc)
    numbers = [s.sentence for s in sentences]
    assert numbers == list(range(1, len(sentences) + 1))
    previous_end = 0
    for s in sentences:
        assert s.text == text[s.start:s.end]
        assert s.text == s.text.strip() and s.text
        assert s.start >= previous_end
        assert "\n" not in s.text and "\r" not in s.text
        previous_end = s.end
    paragraphs = [s.paragraph for s in sentences]
    assert paragraphs == sorted(paragraphs)


WORD = re.compile(r"\w")


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Each non-blank line of ``text`` without the whitespace around it: the paragraphs."""
    spans = []
    for match in re.finditer(r"[^\r\n]+", text):
        line = match.group()
        start = match.start() + len(line) - len(line.lstrip())
        end = match.end() - (len(line) - len(line.rstrip()))
        if start < end:
            spans.append((start, end))
    return spans


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
@example("First one here. Second one follows. “Third,” he said. 4 more came.")
@example("Hi. !!! Yes.\n\n---\n  Mr. Smith went. No. 5 stayed.  ")
def test_sentences_and_the_gaps_between_them_rebuild_every_paragraph(text: str) -> None:
    """Catches: a splitter that loses or shifts characters at sentence boundaries, such as
    one that drops the first character of every later sentence of a paragraph. (Comparing
    a sentence's text with the slice it was cut from cannot: both lose the character.)

    Between sentences there is only whitespace, or a run of marks without a word character
    that Punkt made a sentence of its own ("Hi. !!! Yes."), which the splitter drops, as it
    drops paragraphs without words ("---")."""
    sentences = split_document(Document(id="d", title="D", text=text))
    spans = paragraph_spans(text)
    assert all(1 <= s.paragraph <= len(spans) for s in sentences)
    for number, (start, end) in enumerate(spans, start=1):
        paragraph = text[start:end]
        mine = [s for s in sentences if s.paragraph == number]
        if not WORD.search(paragraph):
            assert mine == []
            continue
        assert mine, f"paragraph {number} has words but no sentence: {paragraph!r}"
        pieces: list[str] = []
        at = start
        for s in [*mine, None]:
            gap = text[at:s.start if s else end]
            assert not WORD.search(gap), f"words lost between sentences: {gap!r} in {paragraph!r}"
            pieces.append(gap)
            if s is not None:
                assert s.start >= at and s.end <= end
                pieces.append(s.text)
                at = s.end
        assert "".join(pieces) == paragraph
    covered = [False] * len(text)
    for s in sentences:
        covered[s.start:s.end] = [True] * (s.end - s.start)
    lost = [(i, ch) for i, ch in enumerate(text) if WORD.match(ch) and not covered[i]]
    assert lost == []


def test_a_one_megabyte_line_splits_and_slices_back() -> None:
    text = ("The committee met again today. " * 35_000)[:1_000_000] + "\n" + "x" * 200_000
    doc = Document(id="big", title="Big", text=text)
    sentences = split_document(doc)
    assert len(sentences) > 30_000
    assert all(text[s.start:s.end] == s.text for s in sentences[::997])
    # The run without spaces is cut at the longest sentence quoted whole, nothing lost.
    assert all(len(s.text) <= MAX_SENTENCE_CHARS for s in sentences)
    assert "".join(s.text for s in sentences if s.start > 1_000_000) == "x" * 200_000


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_tokens_keep_their_offsets(text: str) -> None:
    for token in tokenize(text):
        assert text[token.start:token.end] == token.surface


@pytest.fixture(scope="module")
def engine() -> QuoteEngine:
    return QuoteEngine.open()


QUESTION = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["how", "many", "who", "stabbings", "New", "York", "she", "?", "more",
                              "Linden", "the", "what", "about", "it", "ﬁ", "zzz", "72", "-"]),
             max_size=12).map(" ".join),
)



@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(QUESTION, st.integers(min_value=-5, max_value=80))
def test_answering_never_raises_and_keeps_the_contract(engine: QuoteEngine, question: str,
                                                       k: int) -> None:
    try:
        answer = engine.answer_question(question, k)
    except InvalidQuestion as exc:
        assert exc.to_json()["error"]["message"]
        return
    data = answer.to_json()
    assert isinstance(data["question"], str)
    assert isinstance(data["answered"], bool)
    assert data["answer"] is None or isinstance(data["answer"], str)
    assert isinstance(data["quotes"], list)
    if not data["answered"]:
        assert data["quotes"] == [] and data["answer"] is None
    text = engine.document("met-police-nypd-visit").text
    for quote in data["quotes"]:
        assert set(quote) == {"text", "doc", "title", "paragraph", "sentence", "start", "end",
                              "score"}
        assert text[quote["start"]:quote["end"]] == quote["text"]
        assert quote["score"] > 0
    if data["answer"] is not None:
        assert text[data["answer_start"]:data["answer_end"]] == data["answer"]


@pytest.mark.parametrize("question", ["\ud800 how many?", "stab\udfffbings", "\udc00"])
def test_lone_surrogates_are_rejected_cleanly(engine: QuoteEngine, question: str) -> None:
    with pytest.raises(InvalidQuestion) as info:
        engine.answer_question(question)
    assert info.value.code in ("invalid_unicode", "no_words")


@pytest.mark.parametrize("question", ["", "   ", "?!?", string.punctuation, "x" * 100_000])
def test_questions_without_words_or_too_long_get_a_clear_error(engine: QuoteEngine,
                                                               question: str) -> None:
    with pytest.raises(InvalidQuestion) as info:
        engine.answer_question(question)
    assert info.value.message.endswith((".", "?"))
