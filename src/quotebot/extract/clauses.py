"""Short answers to "why": the clause after "because", "due to", "in order to" …."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.spans import CLAUSE_END, Span
from quotebot.extract.times import TIME_RE
from quotebot.lexicon import REASON_MARKERS


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
