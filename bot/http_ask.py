"""Asking and conversations: ``POST /v1/ask``.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from quotebot.errors import InvalidQuestion
from quotebot.question import MAX_QUESTION_CHARS, validate_question
from quotebot.session import SessionState

from .http_common import (
    ANSWERER,
    CONFIG,
    LIMITER,
    METRICS,
    SESSION_BYTES,
    SESSION_ID,
    SHELF,
    STORE,
    ApiError,
    dumps_json,
    json_field,
    read_json_object,
    unknown_session,
)
from .http_libraries import authorize, unknown_library
from .http_proxies import rate_limited
from .libraries import (
    check_name,
    converse,
    keep_session_library,
    library_turn,
    session_library,
)


async def ask(request: web.Request) -> web.Response:
    """POST /v1/ask: {"question", "session"?, "new"?, "k"?, "doc"?, "library"?} → the answer
    JSON and its "session".

    Without ``session`` a conversation starts and its new id comes back; with one the
    server issued (and that has not expired) the question follows up on it; any other
    id is 404 ``unknown_session``, so nobody can read or join a conversation by guessing.
    ``doc`` asks one document of the corpus; ``library`` (with the API key) asks that
    library instead of the corpus. A web page session that added links is answered from
    them first, and from the corpus when they do not answer.
    """
    app = request.app
    refused = await rate_limited(request, "ip", app[LIMITER], "requests")
    if refused is not None:
        return refused
    data = await read_json_object(request)
    question = json_field(data, "question", str, required=True)
    session = json_field(data, "session", str)
    k = json_field(data, "k", int)
    doc = json_field(data, "doc", str)  # answer from this document alone
    library = json_field(data, "library", str)
    # A new conversation in the same session: follow-ups forget what came before, and the
    # documents the session added stay.
    afresh = json_field(data, "new", bool) or False
    if k is None:
        k = 3
    if not 1 <= k <= 50:
        raise ApiError(422, "invalid_field", f"The field 'k' must be between 1 and 50, not {k}.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(422, "question_too_long",
                       f"The question is {len(question):,} characters long; the limit is "
                       f"{MAX_QUESTION_CHARS:,}.")
    if library is not None:
        authorize(request)
        library = check_name(library)
    store = app[STORE]
    try:
        validate_question(question)
    except InvalidQuestion as exc:
        if exc.code not in _NO_QUESTION:
            raise
        own = session_library(session) if session and SESSION_ID.fullmatch(session) else None
        raise ApiError(422, exc.code, await _with_examples(app, exc.message, library, own)
                       ) from None
    if session is None:
        session = secrets.token_urlsafe(SESSION_BYTES)
        answer = await _turn(app, f"http:{session}", SessionState(), question, k, doc, library)
    else:
        if not SESSION_ID.fullmatch(session):
            raise unknown_session(app[CONFIG])
        key = f"http:{session}"
        async with store.lock(key):
            found = await store.find(key)
            if found is None:
                raise unknown_session(app[CONFIG])
            answer = await _turn(app, key, SessionState() if afresh else found, question, k,
                                 doc, library, own_library=session_library(session),
                                 afresh=afresh)
            shelf = app[SHELF]
            if app[CONFIG].web_uploads_enabled and shelf is not None:
                await keep_session_library(shelf, store, session_library(session),
                                           only_if_kept=True)
    app[METRICS].inc("quotebot_answers_total", "Answers given, by outcome.",
                     outcome="answered" if answer.answered else "abstained", frontend="http")
    return web.json_response({**answer.to_json(), "session": session}, dumps=dumps_json)


#: Errors of a question with nothing to ask, answered with questions the documents answer.
_NO_QUESTION = frozenset({"empty_question", "no_words"})


async def _with_examples(app: web.Application, message: str, library: str | None,
                         own_library: str | None) -> str:
    """``message`` with example questions from the documents the question would have been
    asked of: the named library, the session's own library when it added some, else the
    corpus."""
    from quotebot.suggest import examples_for, with_examples

    shelf = app[SHELF]
    corpus = app[ANSWERER].engine
    name = library if library is not None else (
        own_library if app[CONFIG].web_uploads_enabled else None)

    def examples() -> list[str]:
        engine = shelf.engine(name) if shelf is not None and name is not None else None
        if engine is None and library is not None:
            raise unknown_library(library)
        return examples_for(engine or corpus, 2)

    return with_examples(message, await app[ANSWERER].run(examples))


async def _turn(app: web.Application, key: str, state: SessionState, question: str, k: int,
                doc: str | None, library: str | None, own_library: str | None = None,
                afresh: bool = False) -> Any:
    """Answer one question of conversation ``key`` and keep its new state: from the named
    ``library``, or from the session's own library then the corpus (web uploads), or from
    the corpus."""
    answerer = app[ANSWERER]
    store = app[STORE]
    shelf = app[SHELF]
    if library is not None:
        assert shelf is not None  # authorize checked that libraries are on
        found = await answerer.call(library_turn, library, state, question, k, doc,
                                    shelf=shelf)
        if found is None:
            raise unknown_library(library)
        answer, state = found
        await store.put(key, state)
        return answer
    if own_library is not None and doc is None and shelf is not None and \
            app[CONFIG].web_uploads_enabled:
        turn = await converse(answerer, shelf, own_library, store, key, question, k,
                              corpus_state=state,
                              library_state=SessionState() if afresh else None)
        return turn.answer
    answer, state = await answerer.follow_up(state, question, k, doc=doc)
    await store.put(key, state)
    return answer
