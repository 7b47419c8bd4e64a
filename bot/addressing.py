"""Who a Telegram message is for, and which conversation it belongs to: small pure rules
the handlers share, so that text messages, documents and buttons follow one rule.

- In a private chat every message is for the bot; in any other chat (group, supergroup,
  channel) only one that names the bot in an exact mention entity (``@username``,
  case-insensitively, or a text mention of its user), or replies to one of its messages.
  ``@quote_bot2``, ``@quote_botany`` and ``ops@quote_bot.example.org`` do not name
  ``@quote_bot``.
- A private chat is one conversation; in other chats each member has their own, and a
  member's conversation in one chat is never their conversation in another.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Message, MessageEntity
from telegram.constants import ChatType, MessageEntityType


def needs_address(chat_type: str) -> bool:
    """Whether a message in a chat of ``chat_type`` must name the bot to be for it (every
    chat but a private one)."""
    return chat_type != ChatType.PRIVATE


def own_mentions(text: str, entities: Sequence[MessageEntity], username: str | None,
                 bot_id: int) -> list[MessageEntity]:
    """The entities of ``text`` that name the bot exactly."""
    name = (username or "").casefold()
    units = text.encode("utf-16-le")  # Telegram counts offsets in UTF-16 units
    mine: list[MessageEntity] = []
    for entity in entities:
        if entity.type == MessageEntityType.MENTION:
            span = units[entity.offset * 2:(entity.offset + entity.length) * 2]
            if name and span.decode("utf-16-le", errors="replace")[1:].casefold() == name:
                mine.append(entity)
        elif entity.type == MessageEntityType.TEXT_MENTION and entity.user is not None \
                and entity.user.id == bot_id:
            mine.append(entity)
    return mine


def replies_to_bot(message: Message, bot_id: int) -> bool:
    reply = message.reply_to_message
    return bool(reply and reply.from_user and reply.from_user.id == bot_id)


def addressed_text(message: Message, username: str | None, bot_id: int) -> tuple[bool, str]:
    """(whether ``message`` names the bot or replies to it, its text without the bot's
    mentions)."""
    text = message.text or ""
    mine = own_mentions(text, message.entities or (), username, bot_id)
    return bool(mine) or replies_to_bot(message, bot_id), without(text, mine)


def caption_addressed(message: Message, username: str | None, bot_id: int) -> bool:
    """Whether a document's caption names the bot, or the document replies to the bot."""
    mine = own_mentions(message.caption or "", message.caption_entities or (), username,
                        bot_id)
    return bool(mine) or replies_to_bot(message, bot_id)


def without(text: str, entities: Sequence[MessageEntity]) -> str:
    """``text`` without the entities' spans, its blanks collapsed."""
    if not entities:
        return text.strip()
    units = text.encode("utf-16-le")
    out, pos = [], 0
    for entity in sorted(entities, key=lambda e: e.offset):
        out.append(units[pos * 2:entity.offset * 2])
        pos = max(pos, entity.offset + entity.length)
    out.append(units[pos * 2:])
    return " ".join(b"".join(out).decode("utf-16-le", errors="replace").split())


def conversation_key(chat_id: int, chat_type: str, user_id: int | None) -> str:
    """One conversation per private chat; elsewhere one per member of that chat."""
    if chat_type == ChatType.PRIVATE or user_id is None:
        return f"tg:{chat_id}"
    return f"tg:{chat_id}:{user_id}"
