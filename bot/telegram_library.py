"""Each chat's own articles: links and documents sent to the bot, /library and /forget.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telegram import (
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from quotebot.errors import QuotebotError
from quotebot.frontend import counted
from quotebot.render import (
    fit_text,
    render_error,
)

from .addressing import (
    caption_addressed,
    needs_address,
)
from .libraries import chat_library

if TYPE_CHECKING:
    # The engine's modules load NLTK, SciPy and more, which take seconds: a start that
    # fails on its token or address must not wait for them.
    from quotebot.library import AddedDocument
    from quotebot.models import Document

from .telegram_common import (
    NO_ARTICLES,
    BotBase,
    Target,
    one_at_a_time,
)
from .telegram_menus import fit_lines
from .telegram_start import short_error

log = logging.getLogger(__name__)


#: Suggested questions under the acknowledgement of an added article.
ACK_QUESTIONS = 3
#: The kinds of document a chat may send, by file name suffix.
DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
_FORGET = re.compile(r"\s*#?(?P<n>[0-9]{1,6})\s*")


class LibraryHandlers(BotBase):
    """Links and documents a chat sends, /library and /forget."""

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
            await self._say(context, target, f"That file is {megabytes(document.file_size)}; "
                                             f"I read files of up to {megabytes(limit)}.")
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
            log.warning("could not download a document from the Bot API: %s", short_error(exc))
            raise QuotebotError("I could not download that file from Telegram. Please send it "
                                "again.", code="download_failed") from None
        return functools.partial(extract_bytes, data, name=name,
                                 max_bytes=self.config.text_limit("chat"))

    async def _fetch(self, link: str) -> Callable[[], Document]:
        """The page a link points to (a public address; fetched without blocking); its
        extraction, to run in the adding thread."""
        from quotebot.ingest import FetchPolicy, document_from_page, fetch_url_async

        page = await fetch_url_async(link, policy=FetchPolicy(
            max_bytes=self.config.max_document_bytes))
        return functools.partial(document_from_page, page,
                                 max_bytes=self.config.text_limit("chat"))

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
        await context.bot.send_message(target.chat_id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=await self.question_buttons(target,
                                                                                questions),
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
        await context.bot.send_message(target.chat_id, fit_lines(lines),
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


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return f"{name[dot:][:12]} files" if dot > 0 else "files without a suffix"


def megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(1, round(size / 1024))} KB"


def _too_large(size: int, limit: int) -> QuotebotError:
    return QuotebotError(f"that file is {megabytes(size)}; I read files of up to "
                         f"{megabytes(limit)}.", code="file_too_large")


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
        raise QuotebotError(f"that file is over {megabytes(limit)}, the most I read.",
                            code="file_too_large")
    return data
