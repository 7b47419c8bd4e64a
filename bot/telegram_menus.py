"""Commands and menus: /start with example questions, /help, /sources, and what the bot says
to messages it does not take (and on errors).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from quotebot.frontend import counted
from quotebot.render import (
    TELEGRAM_LIMIT,
    fit_text,
    telegram_length,
)
from quotebot.suggest import examples_for

from .addressing import needs_address
from .libraries import chat_library

if TYPE_CHECKING:
    # The engine's modules load NLTK, SciPy and more, which take seconds: a start that
    # fails on its token or address must not wait for them.
    from quotebot.engine import QuoteEngine

from .telegram_common import (
    SORRY,
    BotBase,
    Target,
    one_at_a_time,
)

log = logging.getLogger(__name__)


#: Documents listed per /sources message at most.
SOURCES_PAGE = 20
NOT_TEXT = "I can only read text. Send me a question about what I read."
NOT_TEXT_OR_DOCUMENTS = ("I can only read text: send me a question, or a link or a document "
                         "(.txt, .md, .html, .pdf) to add to what I read.")


def check_of(question: str) -> str:
    return hashlib.sha256(question.encode()).hexdigest()[:6]


@dataclass(frozen=True, slots=True)
class Texts:
    """What the bot says about the corpus it serves: example questions it can answer (the
    /start buttons refer to them by position and a check of their text), and the help."""

    engine: QuoteEngine
    suggestions: tuple[str, ...]
    about: str
    help: str
    empty: str
    #: True when these are about a chat's own articles, not the corpus the bot serves.
    yours: bool = False

    @classmethod
    def of(cls, engine: QuoteEngine, libraries: bool = False, yours: bool = False) -> Texts:
        from quotebot.question import MAX_QUESTION_CHARS

        suggestions = tuple(examples_for(engine, 4))
        docs = engine.documents
        if yours:
            about = (f"your article “{fit_text(docs[0].title, 120)}”" if len(docs) == 1
                     else f"your {len(docs):,} articles")
        else:
            about = (f"“{fit_text(docs[0].title, 120)}”" if len(docs) == 1
                     else f"the {len(docs):,} documents I read")
        example = (f", e.g. <i>{fit_text(suggestions[0], 200)}</i>" if suggestions else "")
        help_text = (
            f"Ask me anything about {about} and I answer by quoting it, with where each "
            f"quote comes from.\n\n"
            f"• Just type a question{example}\n"
            "• <b>More</b> (or /more) gives the next passages\n"
            "• Follow-ups work: <i>what did she say?</i>, <i>what about …?</i>\n"
            "• /sources lists the documents I read\n"
            + ("• Send me a link or a document (.txt, .md, .html, .pdf) and I answer from it "
               "too; /library lists yours, /forget N removes one\n" if libraries else "")
            + "\n"
            f"Questions can be up to {MAX_QUESTION_CHARS:,} characters. In groups, mention me "
            "or reply to me; each member has their own conversation."
        )
        empty = ("Send me a question, e.g. “" + suggestions[0] + "”"
                 if suggestions else "Send me a question about what I read.")
        return cls(engine, suggestions, about, help_text, empty, yours)

    def example(self, index: int, check: str) -> str | None:
        """The example question a button points to, if it is still in the list."""
        if 0 <= index < len(self.suggestions) and check_of(self.suggestions[index]) == check:
            return self.suggestions[index]
        return None

    def example_buttons(self) -> InlineKeyboardMarkup | None:
        if not self.suggestions:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(q, callback_data=f"ask:{i}:{check_of(q)}")]
             for i, q in enumerate(self.suggestions)])


class MenuHandlers(BotBase):
    """/start, /help, /sources, and messages that are not questions."""

    async def texts(self) -> Texts:
        """Greeting, help and example questions for the corpus being served (made again
        when the index changes, off the event loop)."""
        engine = self.engine
        if self._texts is None or self._texts.engine is not engine:
            self._texts = await self.answerer.run(Texts.of, engine, self.shelf is not None)
        return self._texts

    async def chat_texts(self, chat_id: int) -> Texts:
        """The texts about the articles chat ``chat_id`` added, which it is answered from
        first, or about the corpus when it added none."""
        shelf = self.shelf
        if shelf is not None:
            name = chat_library(chat_id)

            def made() -> Texts | None:
                engine = shelf.engine(name)
                return None if engine is None else Texts.of(engine, True, yours=True)

            texts = await self.answerer.run(made)
            if texts is not None:
                return texts
        return await self.texts()

    async def example_markup(self, texts: Texts, target: Target
                             ) -> InlineKeyboardMarkup | None:
        """Buttons asking the example questions of ``texts``: the corpus's by their place
        in its list, a chat's own articles' kept in the store like an added article's."""
        if texts.yours:
            return await self.question_buttons(target, list(texts.suggestions))
        return texts.example_buttons()

    @one_at_a_time
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("start")
        message = update.effective_message
        if message is None:
            return
        target = Target.of(message)
        texts = await self.chat_texts(message.chat.id)
        text = f"Hello! I answer questions about {texts.about} by quoting it.\n"
        if texts.yours:
            text += "Try one of these, or type your own; /library lists your articles:" \
                if texts.suggestions else "Type a question; /library lists your articles."
        else:
            text += "Try one of these, or type your own:" if texts.suggestions else \
                "Type a question; /sources lists what I read."
        await context.bot.send_message(message.chat.id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=await self.example_markup(texts, target),
                                       **target.send_options())

    @one_at_a_time
    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("help")
        message = update.effective_message
        if message is not None:
            await context.bot.send_message(message.chat.id,
                                           (await self.chat_texts(message.chat.id)).help,
                                           parse_mode=ParseMode.HTML,
                                           **Target.of(message).send_options())

    @one_at_a_time
    async def on_sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("sources")
        message = update.effective_message
        if message is not None:
            await self.send_sources(context, Target.of(message), 0)

    async def send_sources(self, context: ContextTypes.DEFAULT_TYPE, target: Target,
                           offset: int) -> None:
        text, following = sources_page(self.engine, offset)
        markup = None
        if following is not None:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton("Next ›", callback_data=f"src:{following}")]])
        await context.bot.send_message(target.chat_id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=markup, **target.send_options())

    @one_at_a_time
    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("not_text")
        chat = update.effective_chat
        message = update.effective_message
        if chat is not None and not needs_address(chat.type) and message is not None:
            text = NOT_TEXT_OR_DOCUMENTS if self.shelf is not None else NOT_TEXT
            await context.bot.send_message(chat.id, text, **Target.of(message).send_options())

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # An edited question was already answered as first sent; answering again would
        # repeat the conversation out of order.
        self._count("edited")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling a Telegram update: %s", context.error,
                  exc_info=context.error)
        self._count("error")
        if isinstance(update, Update) and update.effective_chat is not None:
            message = update.effective_message
            options = Target.of(message).send_options() if message is not None else {}
            try:
                await context.bot.send_message(update.effective_chat.id, SORRY, **options)
            except TelegramError:
                log.warning("could not tell chat %s about the error", update.effective_chat.id)


def sources_page(engine: QuoteEngine, offset: int, limit: int = TELEGRAM_LIMIT
                 ) -> tuple[str, int | None]:
    """One /sources message listing documents from ``offset``, within ``limit``, and the
    offset of the next page (None on the last)."""
    docs = engine.documents
    lines: list[str] = []
    header = f"I read {len(docs):,} document{'s' if len(docs) != 1 else ''}"
    used = telegram_length(header) + 40
    end = offset
    for info in docs[offset:offset + SOURCES_PAGE]:
        line = (f"• <b>{fit_text(info.title, 150)}</b> ({fit_text(info.id, 80)}, "
                f"{counted(info.sentences, 'sentence')})")
        if used + telegram_length(line) + 1 > limit and lines:
            break
        lines.append(line)
        used += telegram_length(line) + 1
        end += 1
    if len(docs) > end - offset:
        header += f" (here {offset + 1:,}–{end:,})"
    following = end if end < len(docs) else None
    return header + ":\n" + "\n".join(lines), following


def fit_lines(lines: list[str], limit: int = TELEGRAM_LIMIT) -> str:
    """``lines`` joined, as many as fit in one message (the last one always kept)."""
    last = lines[-1]
    kept: list[str] = []
    used = telegram_length(last) + 4
    for line in lines[:-1]:
        if used + telegram_length(line) + 1 > limit:
            kept.append("…")
            break
        kept.append(line)
        used += telegram_length(line) + 1
    return "\n".join([*kept, last])
