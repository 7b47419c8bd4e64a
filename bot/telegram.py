"""The Telegram bot: thin python-telegram-bot handlers over the core's conversations.

Handlers parse the update, call :func:`quotebot.session.follow_up` through the
session store, and send :func:`quotebot.render.render_telegram`'s messages.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from quotebot.bot.config import ALLOWED_UPDATES, BotConfig
from quotebot.bot.metrics import Metrics
from quotebot.bot.ratelimit import RateLimiter
from quotebot.bot.sessions import SessionStore
from quotebot.engine import QuoteEngine
from quotebot.errors import QuotebotError
from quotebot.frontend import EXAMPLE_QUESTIONS
from quotebot.question import MAX_QUESTION_CHARS
from quotebot.render import render_error, render_telegram
from quotebot.session import follow_up

log = logging.getLogger(__name__)

MORE = "more"
HELP = (
    "Ask me anything about the article and I answer by quoting it, with where each "
    "quote comes from.\n\n"
    "• Just type a question, e.g. <i>how many stabbings?</i>\n"
    "• <b>More</b> (or /more) gives the next passages\n"
    "• Follow-ups work: <i>what did she say?</i>, <i>what about shootings?</i>\n"
    "• /sources lists the documents I read\n\n"
    f"Questions can be up to {MAX_QUESTION_CHARS} characters. In groups, mention me or "
    "reply to me."
)
NOT_TEXT = "I can only read text. Send me a question about the article, e.g. “how many stabbings?”"
EMPTY = "Send me a question about the article, e.g. “how many stabbings?”"
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."


def more_button() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data=MORE)]])


def example_buttons() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(q, callback_data=f"ask:{i}")] for i, q in
         enumerate(EXAMPLE_QUESTIONS)]
    )


Handler = Callable[[Any, Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def one_at_a_time(handler: Handler) -> Handler:
    """Run the handler holding its chat's lock, so replies come in the order of messages
    even though updates of different chats are handled concurrently."""

    @functools.wraps(handler)
    async def wrapper(self: Any, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            await handler(self, update, context)
            return
        async with self.store.lock(f"tg:{chat.id}"):
            await handler(self, update, context)

    return wrapper


class TelegramBot:
    """The bot's behaviour, independent of polling or webhook delivery."""

    def __init__(self, engine: QuoteEngine, store: SessionStore, metrics: Metrics,
                 config: BotConfig) -> None:
        self.engine = engine
        self.store = store
        self.metrics = metrics
        self.config = config
        self.limiter = RateLimiter(config.rate_limit_chat)
        self._warned: set[int] = set()

    # -- building ---------------------------------------------------------------------

    def build_application(self, *, webhook: bool) -> Application[Any, Any, Any, Any, Any, Any]:
        """A PTB Application with our handlers; without an updater in webhook mode."""
        assert self.config.token
        builder = (ApplicationBuilder().token(self.config.token)
                   .base_url(self.config.api_base_url)
                   .concurrent_updates(64))
        if webhook:
            builder = builder.updater(None)
        app = builder.build()
        message = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("start", self.on_start, filters=message))
        app.add_handler(CommandHandler("help", self.on_help, filters=message))
        app.add_handler(CommandHandler("sources", self.on_sources, filters=message))
        app.add_handler(CommandHandler("more", self.on_more, filters=message))
        app.add_handler(MessageHandler(message & filters.TEXT & ~filters.COMMAND, self.on_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageHandler(message & ~filters.TEXT, self.on_not_text))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        app.add_error_handler(self.on_error)
        return app

    # -- handlers -------------------------------------------------------------------------

    @one_at_a_time
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("start")
        message = update.effective_message
        if message is None:
            return
        await message.reply_html(
            "Hello! I answer questions about the article by quoting it.\n"
            "Try one of these, or type your own:",
            reply_markup=example_buttons(),
        )

    @one_at_a_time
    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("help")
        if update.effective_message:
            await update.effective_message.reply_html(HELP)

    @one_at_a_time
    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("sources")
        if update.effective_message is None:
            return
        lines = [f"• <b>{html.escape(d.title)}</b> ({html.escape(d.id)}, {d.sentences} sentences)"
                 for d in self.engine.documents[:50]]
        more = len(self.engine.documents) - 50
        if more > 0:
            lines.append(f"… and {more} more")
        await update.effective_message.reply_html("I read:\n" + "\n".join(lines))

    @one_at_a_time
    async def on_more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("more")
        if update.effective_chat and self._allowed(update.effective_chat.id):
            await self.answer(update.effective_chat.id, MORE, context)

    @one_at_a_time
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None:
            return
        text = message.text or ""
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            if not self._addressed(message, context):
                return
            text = _strip_mention(text, context.bot.username)
        self._count("text")
        if not text.strip():
            await message.reply_text(EMPTY)
            return
        if not self._allowed(chat.id):
            await self._slow_down(chat.id, context)
            return
        await self.answer(chat.id, text, context)

    @one_at_a_time
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        self._count("callback")
        await query.answer()
        chat_id = query.message.chat.id if query.message else None
        if chat_id is None:
            return
        data = query.data or ""
        if data == MORE:
            question = MORE
        elif data.startswith("ask:") and data[4:].isdigit() and int(data[4:]) < len(
                EXAMPLE_QUESTIONS):
            question = EXAMPLE_QUESTIONS[int(data[4:])]
        else:
            return
        if not self._allowed(chat_id):
            await self._slow_down(chat_id, context)
            return
        await self.answer(chat_id, question, context, echo=data != MORE)

    @one_at_a_time
    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("not_text")
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE and update.effective_message:
            await update.effective_message.reply_text(NOT_TEXT)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # An edited question was already answered as first sent; answering again would
        # repeat the conversation out of order.
        self._count("edited")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling a Telegram update: %s", context.error,
                  exc_info=context.error)
        self._count("error")
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(update.effective_chat.id, SORRY)
            except TelegramError:
                log.warning("could not tell chat %s about the error", update.effective_chat.id)

    # -- answering ------------------------------------------------------------------------

    async def answer(self, chat_id: int, text: str, context: ContextTypes.DEFAULT_TYPE, *,
                     echo: bool = False) -> None:
        """Answer ``text`` in chat ``chat_id``'s conversation and send the reply in order."""
        # The caller holds the chat's lock (see one_at_a_time).
        key = f"tg:{chat_id}"
        state = await self.store.get(key)
        try:
            answer, state = follow_up(self.engine, state, text)
        except QuotebotError as exc:
            await context.bot.send_message(chat_id, render_error(exc.message))
            return
        await self.store.put(key, state)
        self.metrics.inc("quotebot_answers_total", "Answers given, by outcome.",
                         outcome="answered" if answer.answered else "abstained",
                         frontend="telegram")
        messages = render_telegram(answer)
        if echo:
            messages[0] = f"<i>{html.escape(text)}</i>\n\n" + messages[0]
        markup = more_button() if answer.answered and answer.quotes else None
        for n, body in enumerate(messages):
            await context.bot.send_message(
                chat_id, body, parse_mode=ParseMode.HTML,
                reply_markup=markup if n == len(messages) - 1 else None,
                disable_web_page_preview=True,
            )

    # -- helpers ----------------------------------------------------------------------------

    def _addressed(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """In a group: a mention of the bot, or a reply to one of its messages."""
        username = context.bot.username
        if username and f"@{username}".casefold() in (message.text or "").casefold():
            return True
        reply = message.reply_to_message
        return bool(reply and reply.from_user and reply.from_user.id == context.bot.id)

    def _allowed(self, chat_id: int) -> bool:
        if self.limiter.allow(f"chat:{chat_id}"):
            self._warned.discard(chat_id)
            return True
        return False

    async def _slow_down(self, chat_id: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("rate_limited")
        if chat_id in self._warned:
            return  # one polite message per flood, not one per message
        self._warned.add(chat_id)
        wait = max(1, round(self.limiter.retry_after(f"chat:{chat_id}")))
        await context.bot.send_message(
            chat_id, f"You're asking faster than I can read. Please wait {wait} s and ask again.")

    def _count(self, kind: str) -> None:
        self.metrics.inc("quotebot_telegram_updates_total", "Telegram updates handled, by kind.",
                         kind=kind)


def _strip_mention(text: str, username: str | None) -> str:
    if not username:
        return text
    return re.sub(rf"@{re.escape(username)}\b", "", text, flags=re.IGNORECASE).strip()


def allowed_updates() -> list[str]:
    return list(ALLOWED_UPDATES)
