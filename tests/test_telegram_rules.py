"""The Telegram rules handlers share, as pure functions: who a message is for, and which
conversation it continues."""

from __future__ import annotations

import time
from typing import Any

import pytest
from telegram import Message

from quotebot.bot.addressing import (
    addressed_text,
    caption_addressed,
    conversation_key,
    needs_address,
)

from fake_bot_api import BOT_ID, BOT_USERNAME, text_entities

OTHER_BOTS = [f"@{BOT_USERNAME}2", f"@{BOT_USERNAME}any", f"ops@{BOT_USERNAME}.example.org",
              f"@x{BOT_USERNAME}"]


def message(chat_type: str = "group", *, text: str | None = None, caption: str | None = None,
            reply_from: int | None = None, **extra: Any) -> Message:
    data: dict[str, Any] = {"message_id": 5, "date": int(time.time()),
                            "chat": {"id": -100, "type": chat_type},
                            "from": {"id": 501, "is_bot": False, "first_name": "U"}, **extra}
    if text is not None:
        data["text"] = text
        data.setdefault("entities", text_entities(text))
    if caption is not None:
        data["caption"] = caption
        data["caption_entities"] = text_entities(caption)
    if reply_from is not None:
        data["reply_to_message"] = {"message_id": 1, "date": int(time.time()),
                                    "chat": data["chat"],
                                    "from": {"id": reply_from, "is_bot": True, "first_name": "B"}}
    return Message.de_json(data, None)


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
def test_every_chat_but_a_private_one_must_name_the_bot(chat_type: str) -> None:
    assert needs_address(chat_type)
    assert not needs_address("private")


@pytest.mark.parametrize("other", OTHER_BOTS)
def test_a_caption_naming_another_bot_or_an_address_is_not_for_this_bot(other: str) -> None:
    sent = message(caption=f"{other} please read this")
    assert not caption_addressed(sent, BOT_USERNAME, BOT_ID)


@pytest.mark.parametrize("caption", [f"@{BOT_USERNAME} read this", f"for @{BOT_USERNAME.upper()}",
                                     f"📄 @{BOT_USERNAME}"])
def test_a_caption_naming_this_bot_exactly_is_for_it(caption: str) -> None:
    assert caption_addressed(message(caption=caption), BOT_USERNAME, BOT_ID)


def test_a_document_replying_to_the_bot_is_for_it_and_one_replying_to_others_is_not() -> None:
    assert caption_addressed(message(reply_from=BOT_ID), BOT_USERNAME, BOT_ID)
    assert not caption_addressed(message(reply_from=BOT_ID + 1), BOT_USERNAME, BOT_ID)
    assert not caption_addressed(message(), BOT_USERNAME, BOT_ID)


@pytest.mark.parametrize("other", OTHER_BOTS)
def test_a_text_naming_another_bot_is_not_for_this_bot(other: str) -> None:
    addressed, _ = addressed_text(message(text=f"{other} how many stabbings?"), BOT_USERNAME,
                                  BOT_ID)
    assert not addressed


def test_a_text_naming_this_bot_is_for_it_and_loses_the_mention() -> None:
    addressed, text = addressed_text(message(text=f"😀 who went to @{BOT_USERNAME} New York?"),
                                     BOT_USERNAME, BOT_ID)
    assert addressed and text == "😀 who went to New York?"
    mention = {"type": "text_mention", "offset": 0, "length": 5,
               "user": {"id": BOT_ID, "is_bot": True, "first_name": "Quote"}}
    addressed, text = addressed_text(message(text="Quote how many?", entities=[mention]),
                                     BOT_USERNAME, BOT_ID)
    assert addressed and text == "how many?"


def test_a_private_conversation_never_follows_its_user_into_a_group() -> None:
    user = 501  # in Telegram a private chat's id is its user's id
    private = conversation_key(user, "private", user)
    assert private == conversation_key(user, "private", None)
    in_groups = {conversation_key(chat, kind, user) for chat, kind in
                 [(-100, "group"), (-200, "group"), (-100_300, "supergroup")]}
    assert private not in in_groups and len(in_groups) == 3


def test_members_of_one_group_each_have_their_own_conversation() -> None:
    assert conversation_key(-100, "supergroup", 501) != conversation_key(-100, "supergroup", 502)
    assert conversation_key(-100, "group", 501) == conversation_key(-100, "group", 501)
