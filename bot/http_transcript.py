"""Saving a conversation: ``POST /v1/transcript``.

The web page's "Download conversation" is the Markdown the REPL's ``:save`` writes
(:func:`quotebot.render.render_markdown`), made here from the turns the page holds in the
answers' JSON shape, so that the two front ends cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from quotebot.models import Answer, Quote, ShortAnswer
from quotebot.render import render_markdown
from quotebot.session import is_more

from .http_common import ApiError, read_json_object


async def transcript(request: web.Request) -> web.Response:
    """POST /v1/transcript: {"turns": [{"question", "answer"}]}, each answer in the JSON
    shape ``/v1/ask`` returns (as the page's and the REPL's JSON downloads hold them) →
    the conversation as Markdown (text/markdown), each quote with its citation.

    Not counted against the questions a client may ask: the page asks for it after each
    answer, and it only formats what the client sends (within the body size limit)."""
    data = await read_json_object(request)
    turns = _value(data, "turns", list, "")
    answers = [_turn(turn, f"turns[{n}]") for n, turn in enumerate(turns)]
    return web.Response(text=render_markdown(answers), content_type="text/markdown",
                        charset="utf-8")


def _turn(turn: object, where: str) -> Answer:
    question = _value(turn, "question", str, where)
    answer = _value(turn, "answer", dict, where)
    inside = f"{where}.answer"
    short = _value(answer, "answer", str, inside, required=False)
    resolved = _value(answer, "resolved_question", str, inside, required=False)
    quotes = _value(answer, "quotes", list, inside)
    return Answer(
        question=question,
        answered=_value(answer, "answered", bool, inside),
        quotes=tuple(_quote(q, f"{inside}.quotes[{n}]") for n, q in enumerate(quotes)),
        short=ShortAnswer(short, 0, 0) if short is not None else None,
        reason=_value(answer, "reason", str, inside, required=False) or "",
        resolved_question=resolved,
        # "more" continues the last question: its resolved question is no rewrite.
        continued=is_more(question),
    )


def _quote(quote: object, where: str) -> Quote:
    section = _value(quote, "section", list, where, required=False) or []
    if not all(isinstance(heading, str) for heading in section):
        raise ApiError(422, "invalid_field",
                       f"The field {where + '.section'!r} must be a list of strings.")
    return Quote(
        text=_value(quote, "text", str, where), doc=_value(quote, "doc", str, where),
        title=_value(quote, "title", str, where),
        paragraph=_value(quote, "paragraph", int, where), sentence=0,
        start=_value(quote, "start", int, where), end=_value(quote, "end", int, where),
        score=0.0, section=tuple(section),
        url=_value(quote, "url", str, where, required=False) or "")


_KINDS = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
          dict: "an object"}


def _value(data: object, name: str, kind: type, where: str, *, required: bool = True
           ) -> Any:
    """``data[name]`` when it is of ``kind``; ApiError naming the field otherwise
    (``where`` is the path to ``data`` in the request, as ``turns[2].answer``)."""
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_field", f"The field {where!r} must be an object.")
    field = f"{where}.{name}" if where else name
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(422, "missing_field", f"The field {field!r} is required.")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ApiError(422, "invalid_field", f"The field {field!r} must be {_KINDS[kind]}.")
    return value
