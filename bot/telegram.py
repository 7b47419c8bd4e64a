"""The Telegram bot: thin python-telegram-bot handlers over the core's conversations.

Handlers parse the update, call :func:`quotebot.session.follow_up` through the
session store, and send :func:`quotebot.render.render_telegram`'s messages. Starting
(checking the token with the Bot API, registering commands and the webhook) is
bounded in time and fails with one sentence that never holds the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import re
import secrets
import signal
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from quotebot.bot.addressing import (
    addressed_text,
    caption_addressed,
    conversation_key,
    needs_address,
)
from quotebot.bot.config import ALLOWED_UPDATES, BotConfig, redact
from quotebot.bot.libraries import Shelf, chat_library, converse, library_key
from quotebot.bot.metrics import Metrics
from quotebot.bot.ratelimit import Arrival, RateLimiter
from quotebot.errors import QuotebotError
from quotebot.frontend import counted
from quotebot.render import (
    TELEGRAM_LIMIT,
    fit_text,
    render_error,
    render_telegram,
    telegram_length,
)
from quotebot.suggest import suggest_questions

if TYPE_CHECKING:
    # The engine's modules load NLTK, SciPy and more, which take seconds: a start that
    # fails on its token or address must not wait for them.
    from quotebot.bot.answerer import Answerer
    from quotebot.bot.sessions import SessionStore
    from quotebot.engine import QuoteEngine
    from quotebot.library import AddedDocument
    from quotebot.models import Document
    from quotebot.session import SessionState

log = logging.getLogger(__name__)

MORE = "more"
#: Seconds the whole start (token check, commands, webhook) may take.
START_TIMEOUT = 30.0
#: Documents listed per /sources message at most.
SOURCES_PAGE = 20
COMMANDS = (
    ("start", "Greeting and example questions"),
    ("help", "How to ask"),
    ("more", "The next passages of the last answer"),
    ("sources", "The documents I read"),
)
#: Commands of a bot whose chats may add their own articles.
LIBRARY_COMMANDS = (
    ("library", "The articles you added"),
    ("forget", "Remove one of them: /forget N"),
)
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
STALE = "That answer is too old to continue. Please ask the question again."
NOT_TEXT = "I can only read text. Send me a question about what I read."
NOT_TEXT_OR_DOCUMENTS = ("I can only read text: send me a question, or a link or a document "
                         "(.txt, .md, .html, .pdf) to add to what I read.")
NO_ARTICLES = ("This bot answers from the articles it was given; it does not take new ones "
               "here.")
#: Suggested questions under the acknowledgement of an added article.
ACK_QUESTIONS = 3
#: The kinds of document a chat may send, by file name suffix.
DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
_LINK = re.compile(r"https?://[^\s<>\"]{1,4000}", re.IGNORECASE)

_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_MORE_ID = re.compile(r"[A-Za-z0-9_-]{8}")
_ASK = re.compile(r"ask:(?P<index>[0-9]{1,2}):(?P<check>[0-9a-f]{6})")
_SOURCES = re.compile(r"src:(?P<offset>[0-9]{1,9})")
_QUESTION_ID = re.compile(r"lq:(?P<id>[A-Za-z0-9_-]{8})")
_FORGET = re.compile(r"\s*#?(?P<n>[0-9]{1,6})\s*")


# -- settings and start ---------------------------------------------------------------------


class TelegramSettingError(QuotebotError):
    """A Telegram setting that cannot work (no token, a malformed token or URL)."""

    code = "invalid_setting"


class TelegramStartError(QuotebotError):
    """The bot could not start: the Bot API was unreachable, slow, or refused the token."""

    code = "telegram_unavailable"


class StartInterrupted(TelegramStartError):
    code = "interrupted"


def check_token(token: str | None) -> str:
    """The token without surrounding blanks; TelegramSettingError when it cannot be one.

    The message never repeats the token.
    """
    token = (token or "").strip()
    if not token:
        raise TelegramSettingError("No bot token: get one from @BotFather and set "
                                   "TELEGRAM_BOT_TOKEN (or pass --token).")
    if not _TOKEN.fullmatch(token):
        raise TelegramSettingError("TELEGRAM_BOT_TOKEN is not a bot token: a token is digits, "
                                   "a colon, then letters, digits, - and _. Copy it again from "
                                   "@BotFather.")
    return token


def check_api_base_url(url: str) -> None:
    """TelegramSettingError unless ``url`` is an http(s) URL the token can be appended to."""
    parts = urlsplit(url.replace("{token}", "TOKEN"))
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        port_ok = True
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise TelegramSettingError(
            "TELEGRAM_API_BASE_URL is not an http(s) URL; use https://api.telegram.org/bot or "
            "your Bot API server's address ending in /bot, e.g. http://127.0.0.1:8081/bot.")
    if "{token}" not in url and not url.endswith("/bot"):
        raise TelegramSettingError(
            "TELEGRAM_API_BASE_URL must end in /bot, since the token is appended to it: "
            "https://api.telegram.org/bot, or http://HOST:PORT/bot for your own Bot API server.")


def check_webhook_secret(secret: str) -> None:
    if not _WEBHOOK_SECRET.fullmatch(secret):
        raise TelegramSettingError("TELEGRAM_WEBHOOK_SECRET must be 1-256 letters, digits, "
                                   "- or _ (Telegram's rule); make one with: python3 -c "
                                   "'import secrets; print(secrets.token_urlsafe(32))'.")


def api_location(url: str) -> str:
    """Scheme, host and port of the Bot API URL: what a message may show of it."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


def start_error(exc: BaseException, base_url: str, doing: str, hint: str = ""
                ) -> TelegramStartError:
    """One sentence for what went wrong while talking to the Bot API, without secrets."""
    where = api_location(base_url)
    if isinstance(exc, InvalidToken):
        reason = (f"the Bot API at {where} rejected the token; copy TELEGRAM_BOT_TOKEN again "
                  f"from @BotFather and check TELEGRAM_API_BASE_URL")
    elif isinstance(exc, TimedOut | TimeoutError):
        reason = (f"the Bot API at {where} did not answer in time; check the network and "
                  f"TELEGRAM_API_BASE_URL")
    elif isinstance(exc, NetworkError):
        reason = (f"could not reach the Bot API at {where} ({_short(exc)}); check the network "
                  f"and TELEGRAM_API_BASE_URL")
    elif isinstance(exc, TelegramError):
        reason = f"the Bot API at {where} refused: {_short(exc)}"
    else:
        reason = f"{type(exc).__name__} ({_short(exc)})"
    return TelegramStartError(f"Could not {doing}: {reason}{hint}.")


def _short(exc: BaseException) -> str:
    text = " ".join(redact(str(exc)).split()).rstrip(".")
    return text[:160] + ("…" if len(text) > 160 else "") or type(exc).__name__


async def start_telegram(application: Application[Any, Any, Any, Any, Any, Any],
                         config: BotConfig, *, polling: bool = False, hint: str = "") -> None:
    """Initialize (the token is checked with getMe), register the commands, the webhook
    (``config.webhook_url``) or start polling, and start handling updates; within
    START_TIMEOUT seconds, or TelegramStartError."""
    try:
        async with asyncio.timeout(START_TIMEOUT):
            await application.initialize()
            if config.primary:  # one process of several registers for all
                await application.bot.set_my_commands(bot_commands(config))
            if config.webhook_url and not polling and config.primary:
                await application.bot.set_webhook(config.webhook_url,
                                                  secret_token=config.webhook_secret,
                                                  allowed_updates=allowed_updates())
                log.info("registered the Telegram webhook")
            if polling and application.updater is not None:
                await application.updater.start_polling(allowed_updates=allowed_updates())
            await application.start()
    except BaseException as exc:
        await _quietly(application.shutdown())
        if isinstance(exc, Exception):
            _log_failure(exc)
            raise start_error(exc, config.api_base_url, "start the Telegram bot", hint) from None
        raise


async def _quietly(step: Awaitable[object]) -> None:
    try:
        await asyncio.wait_for(step, 5)
    except Exception as exc:
        log.debug("ignoring an error while stopping the Telegram bot: %s", exc)


async def call_bot_api(config: BotConfig, doing: str,
                       action: Callable[[Bot], Awaitable[object]] | None = None) -> None:
    """Check the token with the Bot API, then run ``action`` with the bot; bounded in
    time, and any failure is TelegramStartError ("Could not {doing}: …")."""
    assert config.token
    try:
        async with asyncio.timeout(START_TIMEOUT):
            async with Bot(config.token, base_url=config.api_base_url) as bot:
                if action is not None:
                    await action(bot)
    except Exception as exc:
        _log_failure(exc)
        raise start_error(exc, config.api_base_url, doing) from None


def _log_failure(exc: Exception) -> None:
    """A failed Bot API call at DEBUG: in one line when it is one of Telegram's or the
    network's errors (the sentence shown says it all), with its traceback otherwise."""
    expected = isinstance(exc, TelegramError | TimeoutError)
    log.debug("the Bot API call failed: %s: %s", type(exc).__name__, exc,
              exc_info=None if expected else exc)


async def register_webhook(bot: Bot, url: str, secret: str, config: BotConfig | None = None
                           ) -> None:
    await bot.set_webhook(url, secret_token=secret, allowed_updates=allowed_updates())
    await bot.set_my_commands(bot_commands(config))


def bot_commands(config: BotConfig | None) -> list[BotCommand]:
    """The commands shown in Telegram's menu (with /library and /forget when chats may add
    articles)."""
    extra = LIBRARY_COMMANDS if config is not None and config.chat_libraries_enabled else ()
    return [BotCommand(c, d) for c, d in (*COMMANDS, *extra)]


async def run_polling(application: Application[Any, Any, Any, Any, Any, Any],
                      config: BotConfig, announce: Callable[[], None]) -> None:
    """Start polling, call ``announce``, and run until SIGINT or SIGTERM. A signal before
    the bot has started ends the start with StartInterrupted."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    stop = asyncio.Event()
    started = False

    def on_signal() -> None:
        if started:
            stop.set()
        elif main is not None:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await start_telegram(application, config, polling=True)
    except asyncio.CancelledError:
        raise StartInterrupted("Stopped before the Telegram bot started.") from None
    started = True
    announce()
    try:
        await stop.wait()
    finally:
        if application.updater is not None:
            await _quietly(application.updater.stop())
        await _quietly(application.stop())
        await _quietly(application.shutdown())


def allowed_updates() -> list[str]:
    return list(ALLOWED_UPDATES)


# -- where a reply goes ------------------------------------------------------------------------


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


def _conversation(chat: Chat, user: User | None) -> str:
    key: str = conversation_key(chat.id, chat.type, user.id if user is not None else None)
    return key


def _more_key(chat_id: int, more_id: str) -> str:
    return f"tg:more:{chat_id}:{more_id}"


def _question_key(chat_id: int, question_id: str) -> str:
    """Where a suggested question under an added article's acknowledgement is kept (a
    button's data is too short for the question itself)."""
    return f"tg:question:{chat_id}:{question_id}"


def _check(question: str) -> str:
    return hashlib.sha256(question.encode()).hexdigest()[:6]


#: When the update being handled arrived (set before waiting for its chat's turn).
_arrived: ContextVar[Arrival | None] = ContextVar("quotebot_arrived", default=None)

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
        _arrived.set(Arrival.now())
        async with self.store.lock(f"tg:{chat.id}"):
            await handler(self, update, context)

    return wrapper


@dataclass(frozen=True, slots=True)
class Texts:
    """What the bot says about the corpus it serves: example questions it can answer (the
    /start buttons refer to them by position and a check of their text), and the help."""

    engine: QuoteEngine
    suggestions: tuple[str, ...]
    about: str
    help: str
    empty: str

    @classmethod
    def of(cls, engine: QuoteEngine, libraries: bool = False) -> Texts:
        from quotebot.question import MAX_QUESTION_CHARS

        suggestions = tuple(suggest_questions(engine, n=4))
        docs = engine.documents
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
        return cls(engine, suggestions, about, help_text, empty)

    def example(self, index: int, check: str) -> str | None:
        """The example question a button points to, if it is still in the list."""
        if 0 <= index < len(self.suggestions) and _check(self.suggestions[index]) == check:
            return self.suggestions[index]
        return None

    def example_buttons(self) -> InlineKeyboardMarkup | None:
        if not self.suggestions:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(q, callback_data=f"ask:{i}:{_check(q)}")]
             for i, q in enumerate(self.suggestions)])


class TelegramBot:
    """The bot's behaviour, independent of polling or webhook delivery."""

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

    async def texts(self) -> Texts:
        """Greeting, help and example questions for the corpus being served (made again
        when the index changes, off the event loop)."""
        engine = self.engine
        if self._texts is None or self._texts.engine is not engine:
            self._texts = await self.answerer.run(Texts.of, engine, self.shelf is not None)
        return self._texts

    # -- building ---------------------------------------------------------------------

    def build_application(self, *, webhook: bool) -> Application[Any, Any, Any, Any, Any, Any]:
        """A PTB Application with our handlers; without an updater in webhook mode.

        Outgoing calls go through PTB's AIORateLimiter, within Telegram's flood limits
        (``config.telegram_send_rate`` messages a second overall, 20 a minute per group).
        """
        assert self.config.token
        builder = (ApplicationBuilder().token(self.config.token)
                   .base_url(self.config.api_base_url)
                   .base_file_url(self.config.file_base_url)
                   .rate_limiter(AIORateLimiter(
                       overall_max_rate=self.config.telegram_send_rate, max_retries=2))
                   .concurrent_updates(64))
        if webhook:
            builder = builder.updater(None)
        app = builder.build()
        message = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("start", self.on_start, filters=message))
        app.add_handler(CommandHandler("help", self.on_help, filters=message))
        app.add_handler(CommandHandler("sources", self.on_sources, filters=message))
        app.add_handler(CommandHandler("more", self.on_more, filters=message))
        app.add_handler(CommandHandler("library", self.on_library, filters=message))
        app.add_handler(CommandHandler("forget", self.on_forget, filters=message))
        app.add_handler(MessageHandler(message & filters.TEXT & ~filters.COMMAND, self.on_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageHandler(message & filters.Document.ALL, self.on_document))
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
        texts = await self.texts()
        text = f"Hello! I answer questions about {texts.about} by quoting it.\n"
        text += "Try one of these, or type your own:" if texts.suggestions else \
            "Type a question; /sources lists what I read."
        await context.bot.send_message(message.chat.id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=texts.example_buttons(),
                                       **Target.of(message).send_options())

    @one_at_a_time
    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("help")
        message = update.effective_message
        if message is not None:
            await context.bot.send_message(message.chat.id, (await self.texts()).help,
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
    async def on_more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._count("more")
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        target = Target.of(message)
        if not await self._admit(target, context):
            return
        await self.answer(context, target, _conversation(chat, update.effective_user), MORE)

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
            await context.bot.send_message(chat.id, (await self.texts()).empty,
                                           **target.send_options())
            return
        if not await self._admit(target, context):
            return
        link = just_a_link(text)
        if link is not None:
            self._count("link")
            await self.add_article(context, target, lambda: self._fetch(link), url=link)
            return
        await self.answer(context, target, _conversation(chat, update.effective_user), text)

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
        conversation = _conversation(chat, query.from_user)
        data = query.data or ""
        state: SessionState | None = None
        library_state: SessionState | None = None
        heading: str | None = None
        source, _, more_id = data.partition(":")
        if source in ("more", "morel") and _MORE_ID.fullmatch(more_id):
            continued = await self.store.get(_more_key(chat.id, more_id))
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
            suggested = await self.store.get(_question_key(chat.id, match["id"]))
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

    # -- answering ------------------------------------------------------------------------

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
            await self.store.put(_more_key(target.chat_id, more_id), kept)
            kind = "morel" if source == "library" else "more"
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton("More", callback_data=f"{kind}:{more_id}")]])
        for n, body in enumerate(messages):
            await context.bot.send_message(
                target.chat_id, body, parse_mode=ParseMode.HTML,
                reply_markup=markup if n == len(messages) - 1 else None,
                disable_web_page_preview=True, **target.send_options(reply=n == 0),
            )

    # -- the chat's own articles ------------------------------------------------------------

    @one_at_a_time
    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or message.document is None:
            return
        if needs_address(chat.type) and not caption_addressed(message, context.bot.username,
                                                              context.bot.id):
            return
        self._count("document")
        target = Target.of(message)
        if not await self._admit(target, context):
            return
        document = message.document
        name = document.file_name or "document"
        limit = self.config.max_document_bytes
        if self.shelf is not None and not name.lower().endswith(DOCUMENT_SUFFIXES):
            await self._say(context, target, f"I can read .txt, .md, .html and .pdf documents, "
                                             f"not {_suffix(name)}.")
            return
        if self.shelf is not None and document.file_size and document.file_size > limit:
            await self._say(context, target, f"That file is {_megabytes(document.file_size)}; "
                                             f"I read files of up to {_megabytes(limit)}.")
            return
        await self.add_article(context, target,
                               lambda: self._download(context, document.file_id, name))

    async def _download(self, context: ContextTypes.DEFAULT_TYPE, file_id: str, name: str
                        ) -> Callable[[], Document]:
        """A sent document, downloaded from the Bot API (getFile, then its bytes, read no
        further than the size cap whatever getFile said); its extraction, to run in the
        adding thread."""
        from quotebot.ingest import extract_bytes

        limit = self.config.max_document_bytes
        try:
            file = await context.bot.get_file(file_id)
            if file.file_size and file.file_size > limit:
                raise _too_large(file.file_size, limit)
            data = await read_capped(file.file_path or "", limit)
        except (TelegramError, OSError) as exc:
            log.warning("could not download a document from the Bot API: %s", _short(exc))
            raise QuotebotError("I could not download that file from Telegram. Please send it "
                                "again.", code="download_failed") from None
        return functools.partial(extract_bytes, data, name=name, max_bytes=limit)

    async def _fetch(self, link: str) -> Callable[[], Document]:
        """The page a link points to (a public address; fetched without blocking); its
        extraction, to run in the adding thread."""
        from quotebot.ingest import FetchPolicy, document_from_page, fetch_url_async

        page = await fetch_url_async(link, policy=FetchPolicy(
            max_bytes=self.config.max_document_bytes))
        return functools.partial(document_from_page, page,
                                 max_bytes=self.config.max_document_bytes)

    async def add_article(self, context: ContextTypes.DEFAULT_TYPE, target: Target,
                          fetch: Callable[[], Awaitable[Callable[[], Document]]], *,
                          url: str = "") -> None:
        """Add what ``fetch`` brings to the chat's library and acknowledge it with its title,
        its size and questions it answers (as buttons); errors are polite messages.

        Extracting, indexing and finding questions run in the chat's turn of the adding
        processes (quotebot.bot.adding), never where questions are answered."""
        shelf = self.shelf
        if shelf is None:
            await self._say(context, target, NO_ARTICLES)
            return
        name = chat_library(target.chat_id)
        # A full library is said so before anything is fetched (a new version of a link it
        # holds still replaces it).
        docs = await shelf.documents(name) or []
        most = self.config.chat_max_docs
        if len(docs) >= most and not (url and any(d.url == url for d in docs)):
            await self._say(context, target, render_error(
                f"your library is full: it holds {len(docs)} articles, the most a chat may. "
                "/library lists them, /forget N removes one."))
            return
        with contextlib.suppress(TelegramError):  # only a courtesy
            await context.bot.send_chat_action(target.chat_id, ChatAction.TYPING)
        limits = self.config.library_limits("chat")
        try:
            added: AddedDocument
            added, questions = await shelf.add(name, await fetch(), limits,
                                               suggest=ACK_QUESTIONS)
        except QuotebotError as exc:
            self._count("add_refused")
            message = exc.message[:1].lower() + exc.message[1:]
            if exc.code in ("library_full", "library_too_large"):
                message += " (/library lists your articles, /forget N removes one.)"
            await self._say(context, target, render_error(message))
            return
        self._count("added")
        again = " (the new version)" if added.replaced else ""
        text = (f"Added <b>{fit_text(added.title, 300)}</b>{again}: {added.sentences:,} "
                f"sentence{'s' if added.sentences != 1 else ''}. Ask me anything about it"
                + (", for example:" if questions else "."))
        from quotebot.session import SessionState

        rows = []
        for question in questions:
            question_id = secrets.token_urlsafe(6)
            await self.store.put(_question_key(target.chat_id, question_id),
                                 SessionState(question=question))
            rows.append([InlineKeyboardButton(question, callback_data=f"lq:{question_id}")])
        await context.bot.send_message(target.chat_id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=InlineKeyboardMarkup(rows) if rows else None,
                                       **target.send_options())

    async def _library_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                               command: str) -> Target | None:
        """Count ``command`` and find where to answer it; None (after saying why, when
        there is a chat) when there is no message or this bot takes no articles."""
        self._count(command)
        message = update.effective_message
        if message is None:
            return None
        target = Target.of(message)
        if self.shelf is None:
            await self._say(context, target, NO_ARTICLES)
            return None
        return target

    @one_at_a_time
    async def on_library(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        target = await self._library_command(update, context, "library")
        if target is None or self.shelf is None:
            return
        docs = await self.shelf.documents(chat_library(target.chat_id)) or []
        limit = self.config.chat_max_docs
        if not docs:
            await self._say(context, target, "You have not added any articles yet. Send me a "
                                             "link or a document (.txt, .md, .html, .pdf) and "
                                             "I will answer questions about it.")
            return
        lines = [f"Your articles ({len(docs)} of {limit}):"]
        for n, info in enumerate(docs, 1):
            lines.append(f"{n}. <b>{fit_text(info.title, 150)}</b> "
                         f"({counted(info.sentences, 'sentence')})")
        lines.append("/forget N removes article N.")
        await context.bot.send_message(target.chat_id, _fit_lines(lines),
                                       parse_mode=ParseMode.HTML,
                                       disable_web_page_preview=True, **target.send_options())

    @one_at_a_time
    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        target = await self._library_command(update, context, "forget")
        if target is None or self.shelf is None:
            return
        name = chat_library(target.chat_id)
        docs = await self.shelf.documents(name) or []
        argument = " ".join(context.args or [])
        match = _FORGET.fullmatch(argument)
        if not docs:
            await self._say(context, target, "You have no articles to forget.")
            return
        if match is None or not 1 <= int(match["n"]) <= len(docs):
            await self._say(context, target, f"Send /forget N, with N from 1 to {len(docs)} "
                                             "(the numbers /library shows).")
            return
        info = docs[int(match["n"]) - 1]
        try:
            await self.shelf.remove(name, [info.id])
        except QuotebotError as exc:
            await self._say(context, target, render_error(exc.message))
            return
        await context.bot.send_message(target.chat_id,
                                       f"Forgot <b>{fit_text(info.title, 300)}</b>.",
                                       parse_mode=ParseMode.HTML, **target.send_options())

    async def _say(self, context: ContextTypes.DEFAULT_TYPE, target: Target, text: str) -> None:
        await context.bot.send_message(target.chat_id, text, **target.send_options())

    # -- helpers ----------------------------------------------------------------------------

    async def _admit(self, target: Target, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Take a question from the chat's rate limit (shared through Redis when it is
        configured); when the chat is over it, say so politely, once per flood."""
        wait = await self.store.take(f"chat:{target.chat_id}", self.limiter, _arrived.get())
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

    def _count(self, kind: str) -> None:
        self.metrics.inc("quotebot_telegram_updates_total", "Telegram updates handled, by kind.",
                         kind=kind)


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


# -- links and documents sent to the bot ---------------------------------------------------------


def just_a_link(text: str) -> str | None:
    """The link when ``text`` is an http(s) link and nothing else (a question that quotes a
    link is a question)."""
    text = text.strip().strip("<>")
    return text if _LINK.fullmatch(text) else None


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return f"{name[dot:][:12]} files" if dot > 0 else "files without a suffix"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(1, round(size / 1024))} KB"


def _too_large(size: int, limit: int) -> QuotebotError:
    return QuotebotError(f"that file is {_megabytes(size)}; I read files of up to "
                         f"{_megabytes(limit)}.", code="file_too_large")


async def read_capped(location: str, limit: int) -> bytes:
    """The bytes of a file the Bot API serves at ``location`` (its URL, or its path on this
    machine for a local Bot API server), streamed and given up past ``limit`` bytes."""
    if not location.startswith(("http://", "https://")):
        def read_local() -> bytes:
            with open(location, "rb") as fh:
                return fh.read(limit + 1)

        data = await asyncio.to_thread(read_local)
    else:
        import httpx

        received = bytearray()
        try:
            # No compression: the cap counts the bytes a file really takes.
            async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), trust_env=False
                                         ) as client, \
                    client.stream("GET", location, headers={"Accept-Encoding": "identity"}
                                  ) as response:
                if response.status_code != 200:
                    raise OSError(f"the Bot API answered {response.status_code}")
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) > limit:
                        break
        except httpx.HTTPError as exc:
            raise OSError(type(exc).__name__) from None  # its text holds the token's URL
        data = bytes(received)
    if len(data) > limit:
        raise QuotebotError(f"that file is over {_megabytes(limit)}, the most I read.",
                            code="file_too_large")
    return data


def _fit_lines(lines: list[str], limit: int = TELEGRAM_LIMIT) -> str:
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
