"""Short answers to "why" and "how did …": the clause after "because", "due to", "in order
to" …, or the phrase "by", "through", "using" or "with" opens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.grammar import AUX, VERB, word_classes
from quotebot.extract.spans import CLAUSE_END, Span, in_question
from quotebot.extract.times import TIME_RE
from quotebot.lexicon import MEANS_MARKERS, REASON_MARKERS
from quotebot.question import Question


def reason_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int]
                  ) -> Span | None:
    """"Why …?": the clause after "because", "due to", "in order to" … that follows the
    question's words in the sentence, up to the end of its clause."""
    if not matched:
        return None
    norms = [t.norm for t in tokens]
    lo = min(matched)
    for marker in REASON_MARKERS:
        words = marker.split()
        for i in range(len(tokens) - len(words)):
            if norms[i:i + len(words)] != words:
                continue
            start = i + len(words)
            # Before the question's words only as an opening clause: "As a result of the
            # Revolution, Wesley was compelled …".
            if i < lo and (start >= len(tokens) or _clause_end(text, tokens, start) >= lo):
                continue
            if marker in ("in order to", "so as to"):
                start -= 1  # a purpose: "to keep the pitch dry"
            if marker == "since" and (tokens[start].surface[:1].isdigit()
                                      or TIME_RE.match(text, tokens[start].start)):
                continue  # "since 1990" is a time, not a reason
            end = _clause_end(text, tokens, start)
            if end - start >= 1:
                return tokens[start].start, tokens[end].end
    return None


def _clause_end(text: str, tokens: Sequence[Token], start: int) -> int:
    """The last token of the clause that starts at ``start`` (before a comma, a full stop,
    a dash or brackets)."""
    end = start
    while end + 1 < len(tokens) and not CLAUSE_END.search(text, tokens[end].end,
                                                            tokens[end + 1].start):
        end += 1
    return end


def means_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                 q: Question) -> Span | None:
    """"How did X …?": the phrase that "by", "through", "using" or "with" opens after the
    question's words ("by selling its stake", "through experimentation")."""
    if not matched:
        return None
    lo = min(matched)
    for i, token in enumerate(tokens):
        if token.norm not in MEANS_MARKERS or i + 1 >= len(tokens) or i in matched:
            continue
        after_words = any(0 < i - m <= 3 for m in matched) and not any(
            CLAUSE_END.search(text, tokens[k].end, tokens[k + 1].start)
            for k in range(max(m for m in matched if m < i), i))
        # "… explained [as] a by-product": "as" only right after the question's words.
        if token.norm == "as" and i - 1 not in matched:
            continue
        near = after_words or (i < lo and lo - _clause_end(text, tokens, i) <= 2)
        if not near or in_question(tokens[i + 1], q):
            continue
        end = _clause_end(text, tokens, i + 1)
        # The phrase ends before a verb of the sentence's own ("[with vectors] avoids …").
        tags = word_classes(tokens)
        end = next((k - 1 for k in range(i + 2, end + 1) if tags[k] in (VERB, AUX)
                    and not tokens[k].norm.endswith("ing")), end)
        if end - i <= 12:
            return token.start, tokens[end].end
    return None
