"""The Telegram bot as real processes against a local fake of the Bot API:
`quotebot telegram` (long polling) and `quotebot serve`'s webhook."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from quotebot.engine import QuoteEngine
from quotebot.render import render_telegram
from quotebot.session import Session

from fake_bot_api import BOT_ID, BOT_USERNAME, FakeBotApi
from servers import Process, serve, stop

SECRET = "s3cret-webhook-token"


@pytest.fixture()
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake


def texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [str(m["text"]) for m in api.sent_to(chat_id)]


def plain(message: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", message))


@pytest.fixture()
def polling_bot(api: FakeBotApi) -> Iterator[subprocess.Popen[str]]:
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=api.base_url,
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "--log-level", "DEBUG",
                             "telegram"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        assert api.wait_for(lambda a: any(c[0] == "getUpdates" for c in a.calls), 30), \
            "the bot never polled"
        yield proc
    finally:
        stop(proc)


def test_polling_bot_answers_like_the_repl(api: FakeBotApi,
                                           polling_bot: subprocess.Popen[str]) -> None:
    api.push(api.message_update(11, "how many stabbings?"))
    assert api.wait_for(lambda a: len(a.sent_to(11)) >= 1)
    reply = api.sent_to(11)[0]
    assert reply["parse_mode"] == "HTML"
    assert reply["text"].startswith("<b>72</b>")
    cli = json.loads(subprocess.run([sys.executable, "-m", "quotebot", "ask",
                                     "how many stabbings?", "--json"], capture_output=True,
                                    text=True, timeout=60, check=True).stdout)
    for quote in cli["quotes"]:
        assert quote["text"] in plain(reply["text"])
    assert "[met-police-nypd-visit ¶9 s15]" in plain(reply["text"])
    buttons = reply["reply_markup"]["inline_keyboard"]
    assert buttons[0][0]["callback_data"] == "more"


def test_polling_bot_handles_odd_messages_politely(api: FakeBotApi,
                                                   polling_bot: subprocess.Popen[str]) -> None:
    sticker = {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 512,
               "height": 512, "is_animated": False, "is_video": False}
    photo = [{"file_id": "p", "file_unique_id": "q", "width": 90, "height": 90}]
    voice = {"file_id": "v", "file_unique_id": "w", "duration": 2}
    api.push(api.message_update(12, None, sticker=sticker))
    api.push(api.message_update(12, None, photo=photo))
    api.push(api.message_update(12, None, voice=voice))
    api.push(api.message_update(12, "x" * 4000))
    api.push(api.message_update(12, "/start"))
    api.push(api.message_update(12, "   "))
    edited = api.message_update(12, "how many stabbings?")
    edited["edited_message"] = edited.pop("message")
    edited["edited_message"]["edit_date"] = int(time.time())
    api.push(edited)
    api.push(api.message_update(12, "/help"))
    assert api.wait_for(lambda a: len(a.sent_to(12)) >= 7)
    time.sleep(0.5)  # the edit must stay unanswered
    replies = texts(api, 12)
    assert len(replies) == 7
    assert all("only read text" in r for r in replies[:3])
    assert "limit is 1,000" in replies[3]
    assert "Hello" in replies[4]
    start_buttons = api.sent_to(12)[4]["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in start_buttons][:2] == ["ask:0", "ask:1"]
    assert "e.g." in replies[5]
    assert "/more" in replies[6] or "More" in replies[6]
    assert polling_bot.poll() is None, "the bot died"


def test_more_and_buttons_continue_the_conversation(api: FakeBotApi,
                                                    polling_bot: subprocess.Popen[str]) -> None:
    api.push(api.message_update(13, "who went to New York?"))
    assert api.wait_for(lambda a: len(a.sent_to(13)) >= 1)
    api.push(api.message_update(13, "more"))
    assert api.wait_for(lambda a: len(a.sent_to(13)) >= 2)
    api.push({"callback_query": {"id": "cb1", "chat_instance": "ci", "data": "more",
                                 "from": {"id": 13, "is_bot": False, "first_name": "U"},
                                 "message": {"message_id": 5, "date": int(time.time()),
                                             "chat": {"id": 13, "type": "private"}}}})
    assert api.wait_for(lambda a: len(a.sent_to(13)) >= 3)
    api.push({"callback_query": {"id": "cb2", "chat_instance": "ci", "data": "ask:0",
                                 "from": {"id": 13, "is_bot": False, "first_name": "U"},
                                 "message": {"message_id": 6, "date": int(time.time()),
                                             "chat": {"id": 13, "type": "private"}}}})
    assert api.wait_for(lambda a: len(a.sent_to(13)) >= 4)
    first, more, button_more, example = (plain(t) for t in texts(api, 13)[:4])
    session = Session(QuoteEngine.open())
    expected = [plain("\n".join(render_telegram(session.ask(q))))
                for q in ("who went to New York?", "more", "more")]
    assert [first, more, button_more] == expected
    assert example.startswith("how many stabbings?") and "72" in example
    assert any(c[0] == "answerCallbackQuery" for c in api.calls)


def test_in_groups_only_mentions_and_replies_are_answered(
        api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
    group = -100
    api.push(api.message_update(group, "how many stabbings?", chat_type="group"))
    api.push(api.message_update(group, f"@{BOT_USERNAME} how many stabbings?",
                                chat_type="group"))
    api.push(api.message_update(group, "who went to New York?", chat_type="supergroup",
                                reply_to_message={"message_id": 1, "date": int(time.time()),
                                                  "chat": {"id": group, "type": "group"},
                                                  "from": {"id": BOT_ID, "is_bot": True,
                                                           "first_name": "Quote"}}))
    assert api.wait_for(lambda a: len(a.sent_to(group)) >= 2)
    time.sleep(0.5)
    replies = texts(api, group)
    assert len(replies) == 2
    assert replies[0].startswith("<b>72</b>")
    assert "Senior Met police officers" in replies[1]


# -- webhook -----------------------------------------------------------------------------------


@pytest.fixture()
def webhook_server(api: FakeBotApi) -> Iterator[Process]:
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "0"}
    with serve("--log-level", "DEBUG", env=env) as server:
        yield server


def post_update(server: Process, update: dict[str, Any], secret: str | None = SECRET
                ) -> tuple[int, Any]:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return server.post("/telegram/webhook", update, headers)


def test_webhook_answers_updates_with_the_right_secret(api: FakeBotApi,
                                                       webhook_server: Process) -> None:
    status, body = post_update(webhook_server, api.message_update(21, "how many stabbings?"))
    assert (status, body["ok"]) == (200, True)
    assert api.wait_for(lambda a: len(a.sent_to(21)) >= 1)
    assert texts(api, 21)[0].startswith("<b>72</b>")


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_webhook_rejects_forged_calls_and_processes_nothing(api: FakeBotApi,
                                                            webhook_server: Process,
                                                            secret: str | None) -> None:
    status, body = post_update(webhook_server, api.message_update(22, "how many stabbings?"),
                               secret)
    assert status == 403 and body["error"]["code"] == "forbidden"
    time.sleep(0.5)
    assert api.sent_to(22) == []


def test_webhook_handles_malformed_unknown_and_redelivered_updates(
        api: FakeBotApi, webhook_server: Process) -> None:
    raw = webhook_server.url + "/telegram/webhook"
    import urllib.error
    import urllib.request

    request = urllib.request.Request(raw, data=b'{"update_id": 1, "message": ', method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": SECRET})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    status, _ = post_update(webhook_server, {"update_id": 777001,
                                             "some_future_update": {"x": 1}})
    assert status == 200
    update = api.message_update(23, "how many stabbings?")
    for _ in range(3):  # Telegram redelivers when it missed our acknowledgement
        assert post_update(webhook_server, update)[0] == 200
    assert api.wait_for(lambda a: len(a.sent_to(23)) >= 1)
    time.sleep(0.5)
    assert len(api.sent_to(23)) == 1
    assert webhook_server.proc.poll() is None


def test_the_token_never_appears_in_logs_or_responses(api: FakeBotApi,
                                                      webhook_server: Process) -> None:
    post_update(webhook_server, api.message_update(24, "how many stabbings?"))
    post_update(webhook_server, api.message_update(24, "x"), secret="forged")
    status, body = webhook_server.post("/v1/ask", {"question": "how many stabbings?"})
    assert status == 200
    assert api.wait_for(lambda a: len(a.sent_to(24)) >= 1)
    log = webhook_server.log()
    assert "POST /telegram/webhook" in log  # the debug log is really there
    assert api.token not in log and api.token.split(":")[1] not in log
    assert SECRET not in log
    assert api.token not in json.dumps(body)


def test_fifty_chats_asking_at_once_each_get_their_own_answers_in_order(
        api: FakeBotApi, webhook_server: Process) -> None:
    questions = ["how many stabbings?", "more", "who went to New York?",
                 "Who is the deputy mayor for policing?", "What did she say?",
                 "When did the officers travel to New York?", "what about shootings?"]
    plans = {1000 + n: [questions[(n + i) % len(questions)] for i in range(4)]
             for n in range(50)}
    # Each chat's messages go out in order (batch i after batch i-1); chats interleave.
    with ThreadPoolExecutor(max_workers=25) as pool:
        for i in range(4):
            batch = [api.message_update(chat, qs[i]) for chat, qs in plans.items()]
            statuses = list(pool.map(lambda u: post_update(webhook_server, u)[0], batch))
            assert statuses == [200] * len(batch)
    assert api.wait_for(lambda a: all(len(a.sent_to(c)) >= 4 for c in plans), 60)
    engine = QuoteEngine.open()
    for chat, qs in plans.items():
        session = Session(engine)
        expected = ["\n".join(render_telegram(session.ask(q))) for q in qs]
        got = texts(api, chat)
        assert got == expected, f"chat {chat} got someone else's or misordered answers"


def test_two_thousand_updates_are_each_answered_exactly_once(api: FakeBotApi,
                                                             webhook_server: Process) -> None:
    chats = [5000 + n for n in range(200)]
    updates = [api.message_update(chat, "how many stabbings?") for _ in range(10)
               for chat in chats]
    redelivered = updates[::50]
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda u: post_update(webhook_server, u)[0],
                                 updates + redelivered))
    assert statuses.count(200) == len(updates) + len(redelivered)
    assert api.wait_for(lambda a: sum(len(a.sent_to(c)) for c in chats) >= len(updates), 120)
    time.sleep(0.5)
    counts = {chat: len(api.sent_to(chat)) for chat in chats}
    assert set(counts.values()) == {10}, "an update was lost or answered twice"


def test_a_flooding_chat_is_slowed_down_politely_while_others_are_answered(
        api: FakeBotApi) -> None:
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "12"}
    with serve(env=env) as server:
        for _ in range(20):
            post_update(server, api.message_update(31, "how many stabbings?"))
        started = time.monotonic()
        post_update(server, api.message_update(32, "how many stabbings?"))
        assert api.wait_for(lambda a: len(a.sent_to(32)) >= 1, 10)
        other_latency = time.monotonic() - started
        assert api.wait_for(lambda a: any("faster than I can read" in str(m["text"])
                                          for m in a.sent_to(31)), 10)
        time.sleep(0.5)
        flood = texts(api, 31)
        answered = [t for t in flood if t.startswith("<b>72</b>")]
        warnings = [t for t in flood if "faster than I can read" in t]
        assert 1 <= len(answered) < 20
        assert len(warnings) == 1  # one polite message per flood, not one per message
        assert other_latency < 5


def test_serve_registers_the_webhook_and_telegram_removes_it(api: FakeBotApi) -> None:
    url = "https://bot.example.org/telegram/webhook"
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_WEBHOOK_URL": url}
    with serve(env=env):
        assert api.webhook is not None
        assert api.webhook["url"] == url
        assert api.webhook["secret_token"] == SECRET
        assert api.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
    removed = subprocess.run([sys.executable, "-m", "quotebot", "telegram", "--delete-webhook"],
                             env=dict(os.environ, TELEGRAM_BOT_TOKEN=api.token,
                                      TELEGRAM_API_BASE_URL=api.base_url),
                             capture_output=True, text=True, timeout=60, check=False)
    assert removed.returncode == 0, removed.stderr
    assert api.webhook is None
    assert api.token not in removed.stderr + removed.stdout


def test_telegram_without_a_token_says_how_to_get_one() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "quotebot", "telegram"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "TELEGRAM_BOT_TOKEN" in result.stderr


def test_serve_says_so_plainly_when_telegram_cannot_be_reached() -> None:
    from fake_bot_api import free_port

    token = "123456:never-printed"
    closed = free_port()  # nothing listens there
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=token, TELEGRAM_WEBHOOK_SECRET=SECRET,
               TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{closed}/bot")
    result = subprocess.run([sys.executable, "-m", "quotebot", "serve", "--port",
                             str(free_port())], env=env, capture_output=True, text=True,
                            timeout=90, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Could not start the Telegram bot" in output and "TELEGRAM_API_BASE_URL" in output
    assert "Traceback" not in output
    assert token not in output
