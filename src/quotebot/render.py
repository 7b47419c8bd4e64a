"""Rendering answers for people: plain text (CLI/REPL) and Telegram HTML.

JSON is :meth:`quotebot.models.Answer.to_json`; these are the human forms of it.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterable, Sequence

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


def section_citation(title: str, section: Sequence[str], paragraph: int) -> str:
    """Where a paragraph is, for people: ``Title › Section › Subsection ¶ N`` (``Title ¶ N``
    outside any section); ``section`` is a quote's (see
    :func:`quotebot.sentences.paragraph_section`)."""
    return " › ".join((title, *section)) + f" ¶ {paragraph}"


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


def terminal_width(default: int = 80) -> int:
    """The terminal's width in columns (``$COLUMNS`` first), ``default`` when it is unknown
    (output piped or redirected); at least 40."""
    return max(shutil.get_terminal_size((default, 24)).columns, 40)


def render_text(answer: Answer, *, color: bool = False, width: int | None = None) -> str:
    """The answer as terminal text, its lines at most ``width`` columns (the terminal's by
    default), broken between words only; matched words highlighted when ``color`` is on."""
    width = terminal_width() if width is None else width
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
        wrapped = _wrap_marked(quote, width, dim) if color else _wrap(quote.text, width)
        lines.append(f"{n}. " + wrapped[0])
        lines.extend("   " + w for w in wrapped[1:])
        lines.append("   " + _dim(f"{citation(quote)} chars {quote.start}-{quote.end}, "
                                  f"score {quote.score:.2f}", color))
    return lines


def _wrap_marked(quote: Quote, width: int, dim: bool) -> list[str]:
    """Wrap a quote, then highlight each line by the character positions it covers."""
    pieces = _wrap(quote.text, width)
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


def _wrap(text: str, width: int) -> list[str]:
    """A quote's lines under a "1. " margin: never longer than ``width`` with it, and never
    broken inside a word (a word longer than a line has a line of its own)."""
    return textwrap.wrap(text, width=max(width - 3, 20), break_long_words=False,
                         break_on_hyphens=False) or [""]


def _bold(text: str, color: bool) -> str:
    return f"{_BOLD}{text}{_RESET}" if color else text


def _dim(text: str, color: bool) -> str:
    return f"{_DIM}{text}{_RESET}" if color else text


# -- Markdown (a conversation saved to a file) ----------------------------------------------

_MARKDOWN_SPECIAL = frozenset("\\`*_[]<>#|")


def markdown_escape(text: str) -> str:
    """``text`` shown as itself in Markdown (no emphasis, links, headings or HTML), on one
    line."""
    shown = " ".join(display_text(text).split())
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in shown)


def render_markdown(turns: Sequence[Answer], title: str = "quotebot conversation") -> str:
    """A conversation as Markdown: each question, its short answer and its quotes, each
    quote with its citation (title, section, paragraph, linking to the document's page when
    it came from one) and where it is in the document (id and character offsets)."""
    lines = [f"# {markdown_escape(title)}", ""]
    for answer in turns:
        lines += [f"## {markdown_escape(answer.question)}", ""]
        if answer.resolved_question and not answer.continued:
            lines += [f"*Understood as: {markdown_escape(answer.resolved_question)}*", ""]
        if not answer.answered:
            reason = f" {markdown_escape(answer.reason)}" if answer.reason else ""
            lines += [f"*{NOT_ANSWERED}*{reason}", ""]
            continue
        if answer.short is not None:
            lines += [f"**{markdown_escape(answer.short.text)}**", ""]
        for quote in answer.quotes:
            label = markdown_escape(section_citation(quote.title, quote.section,
                                                     quote.paragraph))
            if quote.url.startswith(("https://", "http://")):
                label = f"[{label}](<{quote.url.replace('>', '%3E').replace(' ', '%20')}>)"
            lines += [f"> {markdown_escape(quote.text)}", ">",
                      f"> — {label} · {markdown_escape(quote.doc)}, characters "
                      f"{quote.start}–{quote.end}", ""]
    return "\n".join(lines)


# -- Telegram ---------------------------------------------------------------------------

#: Messages one answer may take at most; longer quotes are shortened to fit.
TELEGRAM_MAX_MESSAGES = 3
ELLIPSIS = "…"
#: Characters that must not reach a chat: C0 controls but tab and newline, DEL, C1
#: controls, and the bidirectional overrides that can make a citation read backwards.
_UNSHOWN = frozenset([*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)),
                      *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]) - {"\t", "\n"}
_ESCAPED = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: Room kept for the separator between blocks.
_BLOCK_OVERHEAD = 4
_MIN_QUOTE = 120


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def display_text(text: str) -> str:
    """``text`` safe to show: control characters dropped (a lone CR is a line break),
    lone surrogates replaced."""
    return "".join(_display_char(text, i) for i in range(len(text)))


def _display_char(text: str, i: int) -> str:
    c = text[i]
    if c == "\r":
        return "" if text[i + 1:i + 2] == "\n" else "\n"
    if c in _UNSHOWN:
        return ""
    if "\ud800" <= c <= "\udfff":
        return "\ufffd"
    return c


def telegram_escape(text: str) -> str:
    """``text`` made displayable and escaped for Telegram's HTML parse mode."""
    return "".join(_ESCAPED.get(c, c) for c in display_text(text))


def fit_text(text: str, budget: int) -> str:
    """Escaped ``text``, shortened at a word with "…" so that it takes at most ``budget``
    UTF-16 units (at least the ellipsis)."""
    escaped = telegram_escape(text)
    if telegram_length(escaped) <= budget:
        return escaped
    start, end = _window(text, 0, max(budget - 1, 1))
    return telegram_escape(text[start:end]).rstrip() + ELLIPSIS


def _cost(text: str, i: int) -> int:
    """UTF-16 units that character ``i`` of ``text`` takes once shown and escaped."""
    shown = _display_char(text, i)
    return sum(telegram_length(_ESCAPED.get(c, c)) for c in shown)


def _window(text: str, center: int, budget: int) -> tuple[int, int]:
    """The span of ``text`` around ``center`` whose shown, escaped form fits ``budget``
    (a third of it before ``center`` where there is text to take), moved inwards to word
    boundaries where it is cut."""
    center = min(max(center, 0), len(text))
    # Characters that are dropped cost nothing; still look at a bounded stretch of text.
    lowest, highest = max(0, center - 4 * budget), min(len(text), center + 4 * budget)
    start = end = center
    total = 0
    while start > lowest and total + _cost(text, start - 1) <= budget // 3:
        start -= 1
        total += _cost(text, start)
    while end < highest and total + _cost(text, end) <= budget:
        total += _cost(text, end)
        end += 1
    while start > lowest and total + _cost(text, start - 1) <= budget:
        start -= 1
        total += _cost(text, start)
    if end < len(text):
        cut = text.rfind(" ", center + 1, end)
        if cut > center:
            end = cut
    if start > 0:
        cut = text.find(" ", start, center)
        if cut >= 0:
            start = cut + 1
    return start, end


def render_telegram(answer: Answer, *, limit: int = TELEGRAM_LIMIT,
                    max_messages: int = TELEGRAM_MAX_MESSAGES,
                    heading: str | None = None) -> list[str]:
    """The answer as Telegram HTML messages: at most ``max_messages``, none empty, each at
    most ``limit`` UTF-16 units of HTML (so its text is within Telegram's limit too).

    Everything from the article is cleaned of control characters and HTML-escaped;
    matched words are underlined, the short answer is bold, and each quote is a
    blockquote with its citation. Quotes too long to fit are shortened around what they
    answer, with "…" and their character offsets in the citation. ``heading`` (plain
    text, e.g. the question of a button) comes first, in italics.
    """
    line = max(limit // 4, 16)
    head: list[str] = []
    if heading:
        head.append(f"<i>{fit_text(heading, line - 7)}</i>")
    if answer.resolved_question and not answer.continued:
        head.append(f"<i>Understood as: {fit_text(answer.resolved_question, line - 22)}</i>")
    if answer.searched_for:
        head.append(f"<i>Searched for: {fit_text(answer.searched_for, line - 21)}</i>")
    quotes: tuple[Quote, ...] = ()
    if not answer.answered:
        if answer.continued:
            head.append("No more passages about this. Ask another question.")
        else:
            head.append(f"<b>{NOT_ANSWERED}</b>")
            if answer.closest:
                head.append("<i>Closest passages, not an answer:</i>")
                quotes = answer.closest
    else:
        if answer.short is not None:
            head.append(f"<b>{fit_text(answer.short.text, line - 7)}</b>")
        quotes = answer.quotes
    centers = [_answer_position(answer, q) for q in quotes]
    # The first quote shares its message with the head.
    budget = limit - _BLOCK_OVERHEAD - telegram_length("\n".join(head))
    while True:
        blocks = [_telegram_quote(q, budget, c) for q, c in zip(quotes, centers, strict=True)]
        messages = _pack(["\n".join(head)] if head else [], blocks, limit)
        if len(messages) <= max_messages or budget <= _MIN_QUOTE:
            break
        budget = max(_MIN_QUOTE, budget * 3 // 4)
    if len(messages) > max_messages:  # more quotes than can be shown even shortened
        kept = messages[:max_messages]
        note = "\n\n<i>(More passages were left out; ask a narrower question.)</i>"
        if telegram_length(kept[-1] + note) <= limit:
            kept[-1] += note
        messages = kept
    return messages or [f"<b>{NOT_ANSWERED}</b>"]


def _answer_position(answer: Answer, quote: Quote) -> int:
    """Where in ``quote`` to keep text when it must be shortened: the short answer when
    the quote holds it, else the first matched word."""
    short = answer.short
    if short is not None and quote.start <= short.start < quote.end:
        return short.start - quote.start
    return min((a for a, _ in quote.highlights), default=0)


def _telegram_quote(quote: Quote, budget: int, center: int) -> str:
    """The quote's block, at most ``budget`` units long with its citation."""
    text = quote.text
    cite = _telegram_citation(quote)
    body = _underline(text, quote.highlights, 0, len(text))
    if telegram_length(body) + _wrapping(cite) > budget:
        cite = _telegram_citation(quote, f" chars {quote.start}–{quote.end}, shortened")
        limit = max(budget - _wrapping(cite), 1)
        room = limit
        while True:
            start, end = _window(text, center, room)
            body = _underline(text, quote.highlights, start, end)
            body = (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")
            over = telegram_length(body) - limit
            if over <= 0 or room <= 1:
                break
            room = max(1, room - over)
    return f"<blockquote>{body}</blockquote>\n<i>{cite}</i>"


#: Characters a document's title takes at most in a Telegram citation (a heading: half).
_CITED_TITLE = 80


def _telegram_citation(quote: Quote, note: str = "") -> str:
    """The quote's citation as Telegram HTML: its title, section and paragraph, linking to
    the page it came from when it came from a link."""
    label = section_citation(_shortened(quote.title, _CITED_TITLE),
                             [_shortened(heading, _CITED_TITLE // 2)
                              for heading in quote.section[-2:]], quote.paragraph)
    cite = telegram_escape(label)
    if quote.url.startswith(("https://", "http://")):
        cite = f'<a href="{telegram_escape(quote.url).replace(chr(34), "&quot;")}">{cite}</a>'
    return cite + telegram_escape(note)


def _shortened(text: str, most: int) -> str:
    """``text`` cut at a word with "…" when it is longer than ``most`` characters."""
    if len(text) <= most:
        return text
    cut = text.rfind(" ", 0, most)
    return text[:cut if cut > most // 2 else most - 1].rstrip() + ELLIPSIS


def _wrapping(cite: str) -> int:
    return telegram_length(f"<blockquote></blockquote>\n<i>{cite}</i>")


def _underline(text: str, spans: Iterable[tuple[int, int]], start: int, end: int) -> str:
    """Escaped ``text[start:end]`` with the parts inside ``spans`` underlined."""
    out: list[str] = []
    pos = start
    for a, b in sorted(spans):
        a, b = max(a, pos), min(b, end)
        if a >= b:
            continue
        out.append(telegram_escape(text[pos:a]))
        marked = telegram_escape(text[a:b])
        if marked:
            out.append(f"<u>{marked}</u>")
        pos = b
    out.append(telegram_escape(text[pos:end]))
    return "".join(out)


def _pack(head: list[str], blocks: list[str], limit: int) -> list[str]:
    """Join blocks into as few messages as keep each within ``limit``."""
    messages: list[str] = []
    current = "\n\n".join(head)
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if telegram_length(candidate) <= limit:
            current = candidate
        else:
            if current:
                messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def render_error(message: str) -> str:
    """A short error for chat front ends."""
    return f"Sorry — {message}"
