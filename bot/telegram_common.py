"""What the Telegram handlers share: where a reply goes, one turn per chat at a time, the
bot's state, and saying things politely.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import (
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
    User,
)
from telegram.ext import ContextTypes

from .addressing import conversation_key
from .config import BotConfig
from .libraries import Shelf
from .metrics import Metrics
from .ratelimit import Arrival, RateLimiter

if TYPE_CHECKING:
    # The engine's modules load NLTK, SciPy and more, which take seconds: a start that
    # fails on its token or address must not wait for them.
    from quotebot.engine import QuoteEngine
    from quotebot.models import Document

    from .answerer import Answerer
    from .sessions import SessionStore
    from .telegram_menus import Texts

log = logging.getLogger(__name__)

MORE = "more"
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
STALE = "That answer is too old to continue. Please ask the question again."
NO_ARTICLES = ("This bot answers from the articles it was given; it does not take new ones "
               "here.")


@dataclass(frozen=True, slots=True)
class Target:
    """A reply's place: the chat, the message it answers, and the forum topic."""

    chat_id: int
    message_id: int | None = None
    thread_id: int | None = None

    @classmethod
    def of(cls, message: Any) -> Target:
        """Replying to ``message`` (a Message, or an inaccessible one under a button)."""
        thread = message.message_thread_id if getattr(message, "is_topic_message", False) \
            else None
        return cls(message.chat.id, message.message_id, thread)

    def send_options(self, *, reply: bool = True) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if reply and self.message_id is not None:
            options["reply_parameters"] = ReplyParameters(self.message_id,
                                                          allow_sending_without_reply=True)
        if self.thread_id is not None:
            options["message_thread_id"] = self.thread_id
        return options


def conversation_of(chat: Chat, user: User | None) -> str:
    key: str = conversation_key(chat.id, chat.type, user.id if user is not None else None)
    return key


def more_key(chat_id: int, more_id: str) -> str:
    return f"tg:more:{chat_id}:{more_id}"


def question_key(chat_id: int, question_id: str) -> str:
    """Where a suggested question under an added article's acknowledgement is kept (a
    button's data is too short for the question itself)."""
    return f"tg:question:{chat_id}:{question_id}"


#: When the update being handled arrived (set before waiting for its chat's turn).
arrived_at: ContextVar[Arrival | None] = ContextVar("quotebot_arrived", default=None)
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
        # Rate limits count a message from when it came, not from when its turn came.
        arrived_at.set(Arrival.now())
        async with self.store.lock(f"tg:{chat.id}"):
            await handler(self, update, context)

    return wrapper


class BotBase:
    """The bot's state and what every handler uses; the handlers are in the mixins of
    :class:`quotebot.bot.telegram.TelegramBot`."""

    def __init__(self, answerer: Answerer, store: SessionStore, metrics: Metrics,
                 config: BotConfig, *, shelf: Shelf | None = None) -> None:
        self.answerer = answerer
        self.store = store
        self.metrics = metrics
        self.config = config
        #: The chats' libraries (None: chats cannot add articles).
        self.shelf: Shelf | None = None
        if config.chat_libraries_enabled:
            assert config.data_dir is not None
            self.shelf = shelf or Shelf(config.data_dir, semantic=config.semantic)
            self.shelf.adds.start()  # so that the first add does not wait for the processes
        self.limiter = RateLimiter(config.rate_limit_chat)
        self._warned: set[int] = set()
        self._texts: Texts | None = None

    @property
    def engine(self) -> QuoteEngine:
        """The engine answering now (a new index generation replaces it)."""
        engine: QuoteEngine = self.answerer.engine
        return engine

    async def _say(self, context: ContextTypes.DEFAULT_TYPE, target: Target, text: str) -> None:
        await context.bot.send_message(target.chat_id, text, **target.send_options())

    async def _admit(self, target: Target, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Take a question from the chat's rate limit (shared through Redis when it is
        configured); when the chat is over it, say so politely, once per flood."""
        wait = await self.store.take(f"chat:{target.chat_id}", self.limiter, arrived_at.get())
        if not wait:
            self._warned.discard(target.chat_id)
            return True
        self._count("rate_limited")
        if target.chat_id in self._warned:
            return False  # one polite message per flood, not one per message
        self._warned.add(target.chat_id)
        await context.bot.send_message(
            target.chat_id,
            f"You're asking faster than I can read. Please wait {max(1, math.ceil(wait))} s "
            f"and ask again.", **target.send_options())
        return False

    async def question_buttons(self, target: Target, questions: list[str]
                               ) -> InlineKeyboardMarkup | None:
        """One button per question, asking it when pressed (a button's data is too short
        for the question itself, so it is kept in the store)."""
        from quotebot.session import SessionState

        rows = []
        for question in questions:
            question_id = secrets.token_urlsafe(6)
            await self.store.put(question_key(target.chat_id, question_id),
                                 SessionState(question=question))
            rows.append([InlineKeyboardButton(question, callback_data=f"lq:{question_id}")])
        return InlineKeyboardMarkup(rows) if rows else None

    def _count(self, kind: str) -> None:
        self.metrics.inc("quotebot_telegram_updates_total", "Telegram updates handled, by kind.",
                         kind=kind)

    if TYPE_CHECKING:  # defined by the handler mixins
        async def texts(self) -> Texts: ...

        async def chat_texts(self, chat_id: int) -> Texts: ...

        async def send_sources(self, context: ContextTypes.DEFAULT_TYPE, target: Target,
                               offset: int) -> None: ...

        async def add_article(self, context: ContextTypes.DEFAULT_TYPE, target: Target,
                              fetch: Callable[[], Awaitable[Callable[[], Document]]], *,
                              url: str = "") -> None: ...

        async def _fetch(self, link: str) -> Callable[[], Document]: ...

