"""Rendering answers for people: plain text (CLI/REPL) and Telegram HTML.

JSON is :meth:`quotebot.models.Answer.to_json`; these are the human forms of it.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Iterable

from quotebot.models import Answer, Quote

NOT_ANSWERED = "The article doesn't say."
NOTHING_TO_CONTINUE = "Nothing to continue yet: ask a question first (\"more\" gives the next " \
                      "passages of the last answer)."
#: Telegram rejects messages over 4,096 characters; stay safely below.
TELEGRAM_LIMIT = 4000

_BOLD = "\x1b[1m"
_HIGHLIGHT = "\x1b[1;33m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def citation(quote: Quote) -> str:
    """A readable citation: ``[met-police-nypd-visit ¶9 s15]``."""
    return f"[{quote.doc} ¶{quote.paragraph} s{quote.sentence}]"


def mark(text: str, spans: Iterable[tuple[int, int]], wrap: Callable[[str], str]) -> str:
    """``text`` with each (start, end) span passed through ``wrap``."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(wrap(text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def render_text(answer: Answer, *, color: bool = False, width: int = 88) -> str:
    """The answer as terminal text; matched words highlighted when ``color`` is on."""
    lines: list[str] = []
    if answer.resolved_question and not answer.continued:
        lines.append(_dim(f"(understood as: {answer.resolved_question})", color))
    if answer.searched_for:
        lines.append(_dim(f"(searched for: {answer.searched_for})", color))
    if not answer.answered:
        if answer.continued:
            lines.append("No more passages about this. Ask another question.")
            return "\n".join(lines)
        if _nothing_to_continue(answer):
            lines.append(NOTHING_TO_CONTINUE)
            return "\n".join(lines)
        lines.append(_bold(NOT_ANSWERED, color) + (f" {answer.reason}" if answer.reason else ""))
        if answer.closest:
            lines.append("Closest passages (not an answer):")
            lines.extend(_quote_lines(answer.closest, color, width, dim=True))
        return "\n".join(lines)
    if answer.short is not None:
        lines.append("Answer: " + _bold(answer.short.text, color))
    lines.extend(_quote_lines(answer.quotes, color, width))
    return "\n".join(lines)


def _nothing_to_continue(answer: Answer) -> bool:
    """"more" before any question: nothing to continue, which is not the article's silence."""
    from quotebot.session import is_more

    return (not answer.answered and answer.resolved_question is None and not answer.closest
            and is_more(answer.question))


def _quote_lines(quotes: Iterable[Quote], color: bool, width: int, dim: bool = False
                 ) -> list[str]:
    lines = []
    for n, quote in enumerate(quotes, start=1):
        if color:
            wrapped = _wrap_marked(quote, width, dim)
        else:
            wrapped = textwrap.wrap(quote.text, width=max(width - 4, 20)) or [""]
        lines.append(f"{n}. " + wrapped[0])
        lines.extend("   " + w for w in wrapped[1:])
        lines.append("   " + _dim(f"{citation(quote)} chars {quote.start}-{quote.end}, "
                                  f"score {quote.score:.2f}", color))
    return lines


def _wrap_marked(quote: Quote, width: int, dim: bool) -> list[str]:
    """Wrap a quote, then highlight each line by the character positions it covers."""
    pieces = textwrap.wrap(quote.text, width=max(width - 4, 20)) or [""]
    out, pos = [], 0
    for piece in pieces:
        start = quote.text.find(piece, pos)
        if start < 0:  # wrapping changed whitespace inside the piece; show it unmarked
            out.append(piece)
            continue
        end = start + len(piece)
        spans = [(max(a, start) - start, min(b, end) - start)
                 for a, b in quote.highlights if a < end and b > start]
        text = mark(piece, spans, lambda s: f"{_HIGHLIGHT}{s}{_RESET}")
        out.append(f"{_DIM}{text}{_RESET}" if dim else text)
        pos = end
    return out


def _bold(text: str, color: bool) -> str:
    return f"{_BOLD}{text}{_RESET}" if color else text


def _dim(text: str, color: bool) -> str:
    return f"{_DIM}{text}{_RESET}" if color else text


# -- Telegram ---------------------------------------------------------------------------


def render_telegram(answer: Answer, *, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The answer as Telegram HTML messages, each below ``limit`` characters.

    Everything from the article is HTML-escaped; matched words are underlined,
    the short answer is bold, and each quote is a blockquote with its citation.
    """
    head: list[str] = []
    if answer.resolved_question and not answer.continued:
        head.append(f"<i>Understood as: {html.escape(answer.resolved_question)}</i>")
    if answer.searched_for:
        head.append(f"<i>Searched for: {html.escape(answer.searched_for)}</i>")
    blocks: list[str] = []
    if not answer.answered:
        if answer.continued:
            head.append("No more passages about this. Ask another question.")
        else:
            head.append(f"<b>{NOT_ANSWERED}</b>")
            if answer.closest:
                head.append("<i>Closest passages, not an answer:</i>")
                blocks = [_telegram_quote(q) for q in answer.closest]
    else:
        if answer.short is not None:
            head.append(f"<b>{html.escape(answer.short.text)}</b>")
        blocks = [_telegram_quote(q) for q in answer.quotes]
    return _pack(["\n".join(head)] if head else [], blocks, limit)


def _telegram_quote(quote: Quote) -> str:
    body = mark(quote.text, quote.highlights, lambda s: f"\x00{s}\x01")
    body = html.escape(body).replace("\x00", "<u>").replace("\x01", "</u>")
    return f"<blockquote>{body}</blockquote>\n<i>{html.escape(citation(quote))}</i>"


def _pack(head: list[str], blocks: list[str], limit: int) -> list[str]:
    """Join blocks into messages no longer than ``limit``; split any block that is longer."""
    messages: list[str] = []
    current = "\n\n".join(head)
    for block in blocks:
        for piece in _split_block(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _split_block(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    # A single sentence over the limit: send it as escaped plain text in pieces.
    plain = html.unescape(block.replace("<blockquote>", "").replace("</blockquote>", "")
                          .replace("<u>", "").replace("</u>", "").replace("<i>", "")
                          .replace("</i>", ""))
    step = limit // 2
    return [html.escape(plain[i:i + step]) for i in range(0, len(plain), step)]


def render_error(message: str) -> str:
    """A short error for chat front ends."""
    return f"Sorry — {message}"
