"""The Telegram bot: thin python-telegram-bot handlers over the core's conversations.

Handlers parse the update, call :func:`quotebot.session.follow_up` through the
session store, and send :func:`quotebot.render.render_telegram`'s messages. Starting
(checking the token with the Bot API, registering commands and the webhook) is
bounded in time and fails with one sentence that never holds the token.

The rooms: starting (telegram_start), commands and menus (telegram_menus), conversations
(telegram_conversations), the chats' own articles (telegram_library); what they share is in
telegram_common, and who a message is for in addressing.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from .telegram_common import BotBase
from .telegram_conversations import ConversationHandlers
from .telegram_library import LibraryHandlers
from .telegram_menus import MenuHandlers


class TelegramBot(MenuHandlers, ConversationHandlers, LibraryHandlers, BotBase):
    """The bot's behaviour, independent of polling or webhook delivery."""

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
