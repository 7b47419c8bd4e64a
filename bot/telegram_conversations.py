"""Conversations: questions, follow-ups, More and the buttons under answers.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from quotebot.errors import QuotebotError
from quotebot.render import (
    render_error,
    render_telegram,
)

from .addressing import (
    addressed_text,
    needs_address,
)
from .libraries import chat_library, converse, library_key

if TYPE_CHECKING:
    # The engine's modules load NLTK, SciPy and more, which take seconds: a start that
    # fails on its token or address must not wait for them.
    from quotebot.session import SessionState

from .telegram_common import (
    MORE,
    STALE,
    BotBase,
    Target,
    conversation_of,
    more_key,
    one_at_a_time,
    question_key,
)

_MORE_ID = re.compile(r"[A-Za-z0-9_-]{8}")
_ASK = re.compile(r"ask:(?P<index>[0-9]{1,2}):(?P<check>[0-9a-f]{6})")
_SOURCES = re.compile(r"src:(?P<offset>[0-9]{1,9})")
_QUESTION_ID = re.compile(r"lq:(?P<id>[A-Za-z0-9_-]{8})")
_LINK = re.compile(r"https?://[^\s<>\"]{1,4000}", re.IGNORECASE)


class ConversationHandlers(BotBase):
    """Questions, More, and the buttons under answers and examples."""

    @one_at_a_time
    async def on_more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("more")
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        target = Target.of(message)
        if not await self._admit(target, context):
            return
        await self.answer(context, target, conversation_of(chat, update.effective_user), MORE)

    @one_at_a_time
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        addressed, text = addressed_text(message, context.bot.username, context.bot.id)
        if needs_address(chat.type) and not addressed:
            return
        self._count("text")
        target = Target.of(message)
        if not text.strip():
            await context.bot.send_message(chat.id, (await self.chat_texts(chat.id)).empty,
                                           **target.send_options())
            return
        if not await self._admit(target, context):
            return
        link = just_a_link(text)
        if link is not None:
            self._count("link")
            await self.add_article(context, target, lambda: self._fetch(link), url=link)
            return
        await self.answer(context, target, conversation_of(chat, update.effective_user), text)

    @one_at_a_time
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        self._count("callback")
        await query.answer()
        if query.message is None:
            return
        target = Target.of(query.message)
        chat = query.message.chat
        conversation = conversation_of(chat, query.from_user)
        data = query.data or ""
        state: SessionState | None = None
        library_state: SessionState | None = None
        heading: str | None = None
        source, _, more_id = data.partition(":")
        if source in ("more", "morel") and _MORE_ID.fullmatch(more_id):
            continued = await self.store.get(more_key(chat.id, more_id))
            if continued.question is None:
                await context.bot.send_message(chat.id, STALE, **target.send_options())
                return
            question = MORE
            # The button continues the answer it was under, from where that answer came.
            if source == "morel":
                library_state = continued
                state = replace(await self.store.get(conversation), question=None)
            else:
                state = continued
                if self.shelf is not None:
                    library_state = replace(await self.store.get(library_key(conversation)),
                                            question=None)
        elif (match := _QUESTION_ID.fullmatch(data)):
            suggested = await self.store.get(question_key(chat.id, match["id"]))
            if suggested.question is None:
                await context.bot.send_message(chat.id, "That suggestion is too old; send "
                                               "/library to see your articles, or type a "
                                               "question.", **target.send_options())
                return
            question = heading = suggested.question
        elif data == MORE:  # buttons sent before More carried what it continues
            question = MORE
        elif (match := _ASK.fullmatch(data)) and (
                found := (await self.texts()).example(int(match["index"]), match["check"])):
            question = heading = found
        elif (match := _SOURCES.fullmatch(data)) and int(match["offset"]) < len(
                self.engine.documents):
            if await self._admit(target, context):
                await self.send_sources(context, target, int(match["offset"]))
            return
        elif data.startswith("ask:"):
            await context.bot.send_message(chat.id, "That example is from an older list; "
                                           "send /start for the current one.",
                                           **target.send_options())
            return
        else:
            return
        if not await self._admit(target, context):
            return
        await self.answer(context, target, conversation, question, state=state,
                          library_state=library_state, heading=heading)

    async def answer(self, context: ContextTypes.DEFAULT_TYPE, target: Target,
                     conversation: str, text: str, *, state: SessionState | None = None,
                     library_state: SessionState | None = None,
                     heading: str | None = None) -> None:
        """Answer ``text`` in ``conversation`` (or from ``state``, what a More button
        continues) and send the reply to ``target``, in order. A chat that added articles
        is answered from them first, then from the corpus (see quotebot.bot.libraries)."""
        # The caller holds the chat's lock (see one_at_a_time).
        source = "corpus"
        try:
            if self.shelf is None:
                if state is None:
                    state = await self.store.get(conversation)
                answer, state = await self.answerer.follow_up(state, text)
                await self.store.put(conversation, state)
                kept = state
            else:
                turn = await converse(self.answerer, self.shelf, chat_library(target.chat_id),
                                      self.store, conversation, text,
                                      library_state=library_state, corpus_state=state)
                answer, source = turn.answer, turn.source
                kept = turn.library_state if source == "library" else turn.corpus_state
        except QuotebotError as exc:
            await context.bot.send_message(target.chat_id, render_error(exc.message),
                                           **target.send_options())
            return
        self.metrics.inc("quotebot_answers_total", "Answers given, by outcome.",
                         outcome="answered" if answer.answered else "abstained",
                         frontend="telegram")
        messages = render_telegram(answer, heading=heading)
        markup = None
        if answer.answered and answer.quotes:
            # The button continues this answer, not whatever was asked last.
            more_id = secrets.token_urlsafe(6)
            await self.store.put(more_key(target.chat_id, more_id), kept)
            kind = "morel" if source == "library" else "more"
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton("More", callback_data=f"{kind}:{more_id}")]])
        for n, body in enumerate(messages):
            await context.bot.send_message(
                target.chat_id, body, parse_mode=ParseMode.HTML,
                reply_markup=markup if n == len(messages) - 1 else None,
                disable_web_page_preview=True, **target.send_options(reply=n == 0),
            )


def just_a_link(text: str) -> str | None:
    """The link when ``text`` is an http(s) link and nothing else (a question that quotes a
    link is a question)."""
    text = text.strip().strip("<>")
    return text if _LINK.fullmatch(text) else None
