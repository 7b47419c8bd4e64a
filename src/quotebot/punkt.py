"""Punkt's sentence ends for quotebot's fixed settings, decided at the candidate ends only.

quotebot runs NLTK's Punkt untrained: its only parameters are the abbreviations of
``lexicon``. With no collocations, no frequent sentence starters and no orthographic
context, Punkt's second pass can only keep a break after an initial or a number, never
add one, so each candidate end ("." "?" "!" before a space or a closing mark) is
decided from the few tokens around it. :func:`sentence_spans` finds the candidates with
``str.find`` and Punkt's own pattern, and applies Punkt's rules to those tokens as plain
strings (most candidates, a word of letters before the mark, without even splitting
them). NLTK makes an annotated token object of every word around every candidate and
runs generator pipelines over them, which made splitting the largest part of building
an index.

The spans are those of NLTK's ``span_tokenize`` with Punkt's patterns compiled by
:mod:`re` (:func:`nltk_tokenizer`, what quotebot has always split with) for every input;
``tests/test_sentences.py`` compares the two on generated text, and
``benchmarks/check_punkt.py`` on a whole corpus. Stock NLTK applies the same patterns
with the ``regex`` engine, which reads a few characters differently (the separators
U+001C to U+001F are no spaces to it, "½" no letter); elsewhere all three agree. A paragraph
holding a line break, which Punkt reads line by line, goes to NLTK itself.
"""

from __future__ import annotations

import re
import string
from functools import cache

from nltk.tokenize.punkt import (
    PunktLanguageVars,
    PunktParameters,
    PunktSentenceTokenizer,
    PunktToken,
)

from quotebot.lexicon import ABBREVIATIONS

# NLTK runs each of its regular expressions through a wrapper that applies it with the
# `regex` engine under a time limit, a guard meant for patterns a caller supplies. Punkt's
# own patterns are fixed, and the standard library's engine applies them with the same
# results, much faster.


class _LanguageVars(PunktLanguageVars):  # type: ignore[misc]
    """Punkt's English patterns, compiled with :mod:`re`."""

    re_boundary_realignment = re.compile(PunktLanguageVars.re_boundary_realignment.pattern,
                                         re.MULTILINE)

    def __init__(self) -> None:
        super().__init__()
        self._re_word_tokenizer = re.compile(self._word_tokenize_fmt % {
            "NonWord": self._re_non_word_chars, "MultiChar": self._re_multi_char_punct,
            "WordStart": self._re_word_start}, re.UNICODE | re.VERBOSE)
        self._re_period_context = re.compile(self._period_context_fmt % {
            "NonWord": self._re_non_word_chars, "SentEndChars": self._re_sent_end_chars},
            re.UNICODE | re.VERBOSE)


_NON_PUNCT = re.compile(r"[^\W\d]")


class _Token(PunktToken):  # type: ignore[misc]
    """Punkt's token, its patterns compiled with :mod:`re`."""

    __slots__ = ()
    _RE_ELLIPSIS = re.compile(PunktToken._RE_ELLIPSIS.pattern)
    _RE_NUMERIC = re.compile(PunktToken._RE_NUMERIC.pattern)
    _RE_INITIAL = re.compile(PunktToken._RE_INITIAL.pattern)
    _RE_ALPHA = re.compile(PunktToken._RE_ALPHA.pattern)

    @property
    def is_non_punct(self) -> re.Match[str] | None:
        return _NON_PUNCT.search(self.type)


@cache
def nltk_tokenizer() -> PunktSentenceTokenizer:
    """NLTK's Punkt with quotebot's abbreviations (its patterns compiled with :mod:`re`)."""
    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(params, lang_vars=_LanguageVars(), token_cls=_Token)


_VARS = _LanguageVars()
_CANDIDATE = _VARS.period_context_re()
_WORDS = _VARS._word_tokenizer_re()
_REALIGN = _LanguageVars.re_boundary_realignment
_SENT_END = tuple(PunktLanguageVars.sent_end_chars)
_PUNCTUATION = tuple(PunktSentenceTokenizer.PUNCTUATION)
_NUMERIC = _Token._RE_NUMERIC
_INITIAL = _Token._RE_INITIAL
_ABBREVIATIONS = frozenset(ABBREVIATIONS)
#: What Punkt takes for the space before a word (``string.whitespace``, not ``\s``).
_SPACES = string.whitespace
_NUMBER = "##number##"
_SENT_END_MARK = re.compile("[.?!]")
#: The marks Punkt's realignment moves onto the sentence before (the first character of
#: its pattern, a character class).
_CLOSERS = frozenset("\"')]}\u2018\u2019\u201c\u201d\xab\xbb")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``: NLTK's ``span_tokenize`` spans with
    quotebot's abbreviations (:func:`nltk_tokenizer`)."""
    if "\n" in text:
        return list(nltk_tokenizer().span_tokenize(text))
    spaces = [c for c in _SPACES if c in text]
    one_space = spaces[0] if len(spaces) == 1 else None
    ends: list[tuple[int, int]] = []  # (end of a sentence, start of the next)
    word_start = candidate = 0
    previous: re.Match[str] | None = None
    for at in _marks(text):
        match = _CANDIDATE.match(text, at)
        if match is None:
            continue
        # The word before a candidate starts after the last space since the candidate
        # before; without one (or with one right at that candidate, as NLTK counts), it
        # starts where the candidate before's word starts.
        if one_space is not None:
            space = text.rfind(one_space, candidate, at)
        else:
            space = max([text.rfind(c, candidate, at) for c in spaces], default=-1)
        start = space + 1 if space > candidate else word_start
        # A candidate inside the next one's word ("!!!", "U.S.A.") is not decided.
        if previous is not None and candidate <= start and _breaks_at(text, previous,
                                                                      word_start):
            ends.append(_after(previous))
        previous, word_start, candidate = match, start, at
    if previous is not None and _breaks_at(text, previous, word_start):
        ends.append(_after(previous))
    end = len(text.rstrip())
    if not ends:
        return [(0, end)] if end > 0 else []
    return _realigned(text, ends, end)


def _marks(text: str) -> list[int]:
    """Where ``text`` has a sentence-ending mark, in order (``str.find`` scans much faster
    than a pattern tried at every character)."""
    marks = []
    for mark in _SENT_END:
        at = text.find(mark)
        while at >= 0:
            marks.append(at)
            at = text.find(mark, at + 1)
    if len(marks) > 1:
        marks.sort()
    return marks


def _breaks_at(text: str, match: re.Match[str], word_start: int) -> bool:
    """Whether Punkt breaks at candidate ``match`` whose word starts at ``word_start``:
    decided from the tokens of the word, the mark and what follows it."""
    at = match.start()
    word = text[word_start:at]
    if word.isalpha():
        # A word of letters is one token, and so is the mark after it: the common cases,
        # decided without splitting into tokens (the same decisions as _breaks).
        if text[at] != ".":
            return True  # "?" or "!", a token of its own with another after it
        after = match.start("next_tok")
        if after < 0:
            following = text[at + 1]  # a closing mark, the last token
        elif _SENT_END_MARK.search(text, after, match.end("after_tok")) is None:
            following = text[after]  # the next word holds no break of its own
        else:
            return _breaks(_WORDS.findall(text, word_start, match.end("after_tok")))
        if word.lower() in _ABBREVIATIONS:
            return False
        return not (len(word) == 1 and (following in _PUNCTUATION or following.islower()
                                        or following.isupper()))
    return _breaks(_WORDS.findall(text, word_start, match.end("after_tok")))


def _after(match: re.Match[str]) -> tuple[int, int]:
    """(end of the sentence, start of the next) at a break."""
    if match.group("next_tok"):
        return match.end(), match.start("next_tok")
    return match.end(), match.end()


def _breaks(tokens: list[str]) -> bool:
    """Whether Punkt puts a sentence break after any token of ``tokens`` but the last
    (its first pass, then its second pass with quotebot's parameters)."""
    for i in range(len(tokens) - 1):
        token = tokens[i]
        if token in _SENT_END:
            return True
        if token[-1] != "." or token.endswith(".."):
            continue  # no break in the first pass (an ellipsis ends in ".."), nor later
        lower = token[:-1].lower()
        if lower in _ABBREVIATIONS or ("-" in lower and
                                       lower.split("-")[-1] in _ABBREVIATIONS):
            continue
        # An initial or a number is no break before a lower-case word or punctuation,
        # and an initial none before a capital.
        if _INITIAL.match(token) is not None:
            following = tokens[i + 1]
            if (following in _PUNCTUATION or following[0].islower()
                    or following[0].isupper()):
                continue
        else:
            kind = _NUMERIC.sub(_NUMBER, token.lower())
            if len(kind) > 1 and kind[-1] == ".":
                kind = kind[:-1]
            if kind == _NUMBER:
                following = tokens[i + 1]
                if following in _PUNCTUATION or following[0].islower():
                    continue
        return True
    return False


def _realigned(text: str, ends: list[tuple[int, int]], end: int) -> list[tuple[int, int]]:
    """The sentences between ``ends`` (the last one ending at ``end``), each keeping the
    closing quotes and brackets that follow its break (Punkt's realignment)."""
    spans = []
    start = 0
    last = len(ends) - 1
    for i, (stop, next_start) in enumerate(ends):
        next_end = ends[i + 1][0] if i < last else end
        closing = (_REALIGN.match(text, next_start, next_end)
                   if next_start < next_end and text[next_start] in _CLOSERS else None)
        if closing is not None:
            spans.append((start, next_start + len(closing.group().rstrip())))
            start = closing.end()
        else:
            if start < stop:
                spans.append((start, stop))
            start = next_start
    if start < end:
        spans.append((start, end))
    return spans
