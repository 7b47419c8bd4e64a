"""The Telegram bot as real processes against a local fake of the Bot API:
`quotebot telegram` (long polling) and `quotebot serve`'s webhook."""

from __future__ import annotations

import contextlib
import html
import itertools
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

pytestmark = pytest.mark.slow

SECRET = "s3cret-webhook-token"


@pytest.fixture()
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake


def texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [str(m["text"]) for m in api.sent_to(chat_id)]


def plain(message: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", message))


@contextlib.contextmanager
def polling(api: FakeBotApi, *args: str, output: Any = subprocess.PIPE
            ) -> Iterator[subprocess.Popen[str]]:
    """`quotebot --log-level DEBUG telegram ARGS` polling the fake Bot API, its log to
    ``output`` (a pipe to read once it stops; a file for a bot that runs long, whose log
    would fill a pipe nobody reads)."""
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=api.base_url,
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "--log-level", "DEBUG",
                             "telegram", *args], env=env, stdout=output,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        assert api.wait_for(lambda a: any(c[0] == "getUpdates" for c in a.calls), 60), \
            "the bot never polled"
        yield proc
    finally:
        stop(proc)


@pytest.fixture()
def polling_bot(api: FakeBotApi) -> Iterator[subprocess.Popen[str]]:
    with polling(api) as proc:
        yield proc


def _continued(question: str) -> Any:
    session = Session(QuoteEngine.open())
    session.ask(question)
    return session.ask("more")


class _OneFakeApi:
    """One fake Bot API for all the tests of a class (each talks in chats of its own)."""

    @pytest.fixture(scope="class")
    @classmethod
    def api(cls) -> Iterator[FakeBotApi]:
        with FakeBotApi() as fake:
            yield fake


class TestOnePollingBot(_OneFakeApi):
    """One `quotebot telegram` polling one fake Bot API, for the tests that need nothing else
    (each talks in chats of its own)."""

    @pytest.fixture(scope="class")
    @classmethod
    def polling_bot(cls, api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[subprocess.Popen[str]]:
        log = tmp_path_factory.mktemp("bot") / "bot.log"
        with open(log, "w", encoding="utf-8") as output, polling(api, output=output) as proc:
            yield proc

    def test_polling_bot_answers_like_the_repl(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        question = api.message_update(11, "how many offences?")
        api.push(question)
        assert api.wait_for(lambda a: len(a.sent_to(11)) >= 1)
        reply = api.sent_to(11)[0]
        assert reply["reply_parameters"]["message_id"] == question["message"]["message_id"]
        assert reply["parse_mode"] == "HTML"
        assert reply["text"].startswith("<b>15,000</b>")
        cli = json.loads(subprocess.run([sys.executable, "-m", "quotebot", "ask",
                                         "how many offences?", "--json"], capture_output=True,
                                        text=True, timeout=60, check=True).stdout)
        for quote in cli["quotes"]:
            assert quote["text"] in plain(reply["text"])
        assert "Met police nypd visit ¶ 9" in plain(reply["text"])
        buttons = reply["reply_markup"]["inline_keyboard"]
        assert re.fullmatch(r"more:[A-Za-z0-9_-]{8}", buttons[0][0]["callback_data"])
        assert api.rejected == []

    def test_polling_bot_handles_odd_messages_politely(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
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
        examples = [row[0]["text"] for row in start_buttons]
        assert len(examples) >= 3
        assert [row[0]["callback_data"].split(":")[:2] for row in start_buttons] == [
            ["ask", str(i)] for i in range(len(examples))]
        assert f"e.g. “{examples[0]}”" in replies[5]
        assert "/more" in replies[6] and "/sources" in replies[6] and examples[0] in replies[6]
        assert api.rejected == []
        assert polling_bot.poll() is None, "the bot died"

    def test_more_and_buttons_continue_the_conversation(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        answered_before = sum(c[0] == "answerCallbackQuery" for c in api.calls)
        api.push(api.message_update(13, "who went to New York?"))
        assert api.wait_for(lambda a: len(a.sent_to(13)) >= 1)
        api.push(api.message_update(13, "more"))
        assert api.wait_for(lambda a: len(a.sent_to(13)) >= 2)
        api.push({"callback_query": {"id": "cb1", "chat_instance": "ci", "data": "more",
                                     "from": {"id": 13, "is_bot": False, "first_name": "U"},
                                     "message": {"message_id": 5, "date": int(time.time()),
                                                 "chat": {"id": 13, "type": "private"}}}})
        assert api.wait_for(lambda a: len(a.sent_to(13)) >= 3)
        api.push(api.message_update(13, "/start"))
        assert api.wait_for(lambda a: len(a.sent_to(13)) >= 4)
        first_example = api.sent_to(13)[3]["reply_markup"]["inline_keyboard"][0][0]
        api.push(api.callback_update(13, first_example["callback_data"], message_id=6))
        assert api.wait_for(lambda a: len(a.sent_to(13)) >= 5)
        first, more, button_more, _, example = (plain(t) for t in texts(api, 13)[:5])
        session = Session(QuoteEngine.open())
        expected = [plain("\n".join(render_telegram(session.ask(q))))
                    for q in ("who went to New York?", "more", "more")]
        assert [first, more, button_more] == expected
        # The example is a turn of the same conversation.
        assert example == plain("\n".join(render_telegram(
            session.ask(first_example["text"]), heading=first_example["text"])))
        assert api.sent_to(13)[4]["reply_parameters"]["message_id"] == 6
        assert sum(c[0] == "answerCallbackQuery" for c in api.calls) == answered_before + 2

    def test_in_groups_only_exact_mentions_and_replies_are_answered(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        group = -100
        bot_reply = {"message_id": 1, "date": int(time.time()),
                     "chat": {"id": group, "type": "group"},
                     "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quote"}}
        ignored = [
            api.message_update(group, "how many stabbings?", chat_type="group"),
            api.message_update(group, f"@{BOT_USERNAME}2 how many stabbings?", chat_type="group"),
            api.message_update(group, f"@x{BOT_USERNAME} how many stabbings?", chat_type="group"),
            api.message_update(group, f"ops@{BOT_USERNAME}.example.org how many stabbings?",
                               chat_type="group"),
            api.message_update(group, "/help@another_bot", chat_type="group"),
            api.message_update(group, "/start@another_bot", chat_type="group"),
        ]
        answered = [
            api.message_update(group, f"@{BOT_USERNAME.upper()} how many stabbings?",
                               chat_type="group"),
            api.message_update(group, f"who went to @{BOT_USERNAME} New York?",
                               chat_type="supergroup"),
            api.message_update(group, "Who is the deputy mayor for policing?", chat_type="group",
                               reply_to_message=bot_reply),
            api.message_update(group, "Quote how many stabbings?", chat_type="group",
                               entities=[{"type": "text_mention", "offset": 0, "length": 5,
                                          "user": {"id": BOT_ID, "is_bot": True,
                                                   "first_name": "Quote"}}]),
            api.message_update(group, f"/help@{BOT_USERNAME}", chat_type="group"),
        ]
        for update in ignored + answered:
            api.push(update)
        assert api.wait_for(lambda a: len(a.sent_to(group)) >= len(answered))
        time.sleep(1.0)
        replies = api.sent_to(group)
        assert [r["reply_parameters"]["message_id"] for r in replies] == [
            u["message"]["message_id"] for u in answered]
        assert "with 72 fatal" in replies[0]["text"]
        assert "Senior Met police officers" in replies[1]["text"]
        assert "Sophie Linden met senior NYPD officials" in replies[2]["text"]
        assert "with 72 fatal" in replies[3]["text"]
        assert "/sources" in replies[4]["text"]

    def test_in_groups_each_member_has_their_own_follow_ups(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        group, alice, bob = -200, 501, 502
        mention = f"@{BOT_USERNAME} "
        turns = [(alice, "Who is the deputy mayor for policing?"), (bob, "how many stabbings?"),
                 (alice, "What did she say?"), (bob, "more")]
        for user, text in turns:
            api.push(api.message_update(group, mention + text, chat_type="supergroup",
                                        user_id=user))
        assert api.wait_for(lambda a: len(a.sent_to(group)) >= 4)
        engine = QuoteEngine.open()
        sessions = {alice: Session(engine), bob: Session(engine)}
        expected = ["\n".join(render_telegram(sessions[user].ask(text))) for user, text in turns]
        assert texts(api, group) == expected
        assert "Understood as: What did Sophie Linden say?" in expected[2]

    def test_in_forum_topics_answers_stay_in_the_topic(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        group = -300
        question = api.message_update(group, f"@{BOT_USERNAME} how many stabbings?",
                                      chat_type="supergroup", thread_id=77)
        api.push(question)
        assert api.wait_for(lambda a: len(a.sent_to(group)) >= 1)
        reply = api.sent_to(group)[0]
        assert reply["message_thread_id"] == 77
        assert reply["reply_parameters"]["message_id"] == question["message"]["message_id"]
        more = reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        api.push(api.callback_update(group, more, message_id=reply["message_id"],
                                     chat_type="supergroup", thread_id=77))
        assert api.wait_for(lambda a: len(a.sent_to(group)) >= 2)
        assert api.sent_to(group)[1]["message_thread_id"] == 77
        assert api.sent_to(group)[1]["reply_parameters"]["message_id"] == reply["message_id"]
        assert plain(api.sent_to(group)[1]["text"]) == plain("\n".join(render_telegram(
            _continued("how many stabbings?"))))

    def test_more_continues_the_answer_it_sits_under(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        api.push(api.message_update(14, "how many stabbings?"))
        assert api.wait_for(lambda a: len(a.sent_to(14)) >= 1)
        api.push(api.message_update(14, "who went to New York?"))
        assert api.wait_for(lambda a: len(a.sent_to(14)) >= 2)
        under_first = api.sent_to(14)[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        under_second = api.sent_to(14)[1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        assert under_first != under_second
        assert all(len(d.encode()) <= 64 for d in (under_first, under_second))
        api.push(api.callback_update(14, under_first, message_id=api.sent_to(14)[0]["message_id"]))
        assert api.wait_for(lambda a: len(a.sent_to(14)) >= 3)
        api.push(api.callback_update(14, "more:AAAAAAAA"))  # never issued
        api.push(api.callback_update(14, "more:../../x"))  # malformed: ignored
        assert api.wait_for(lambda a: len(a.sent_to(14)) >= 4)
        time.sleep(0.5)
        replies = texts(api, 14)
        assert len(replies) == 4
        assert plain(replies[2]) == plain("\n".join(render_telegram(
            _continued("how many stabbings?"))))
        assert "too old to continue" in replies[3]

    def test_the_bot_registers_its_commands_when_polling(
            self, api: FakeBotApi, polling_bot: subprocess.Popen[str]) -> None:
        assert api.commands is not None
        assert [c["command"] for c in api.commands] == ["start", "help", "more", "sources",
                                                         "library", "forget"]


def test_polling_with_debug_logs_never_logs_the_token(api: FakeBotApi,
                                                      polling_bot: subprocess.Popen[str]
                                                      ) -> None:
    api.push(api.message_update(15, "how many stabbings?"))
    assert api.wait_for(lambda a: len(a.sent_to(15)) >= 1)
    stop(polling_bot)
    assert polling_bot.stdout is not None
    log = polling_bot.stdout.read()
    assert "getUpdates" in log  # the debug log is really there
    bot_id, key = api.token.split(":")
    assert api.token not in log and key not in log
    assert not re.search(rf"(?<!\d){bot_id}(?!\d)", log)


# -- any corpus ---------------------------------------------------------------------------------

ARTICLE = """Harbour council approves new ferry route

The Harbour Council approved a ferry route between Porthleven and Mousehole on Tuesday.
Councillor Maria Tregenza said the service would start in March 2025.
The route will carry 240 passengers a day during the summer season.
Local fishermen raised concerns about 12 moorings that would be moved.
Maria Tregenza told the meeting that the moorings would be rebuilt nearby.
"""


def test_start_and_help_offer_questions_the_served_corpus_answers(
        api: FakeBotApi, tmp_path: Any) -> None:
    from quotebot.frontend import EXAMPLE_QUESTIONS

    corpus = tmp_path / "articles"
    corpus.mkdir()
    (corpus / "harbour-ferry.txt").write_text(ARTICLE, encoding="utf-8")
    with polling(api, "--corpus", str(corpus), "--semantic", "off"):
        api.push(api.message_update(41, "/start"))
        api.push(api.message_update(41, "/help"))
        assert api.wait_for(lambda a: len(a.sent_to(41)) >= 2)
        start, help_ = api.sent_to(41)[:2]
        buttons = [row[0] for row in start["reply_markup"]["inline_keyboard"]]
        questions = [b["text"] for b in buttons]
        assert len(questions) >= 3
        assert not set(questions) & set(EXAMPLE_QUESTIONS)
        assert questions[0] in html.unescape(help_["text"])
        assert "stabbings" not in start["text"] + help_["text"]
        for n, button in enumerate(buttons):
            api.push(api.callback_update(41, button["callback_data"]))
            assert api.wait_for(lambda a, n=n: len(a.sent_to(41)) >= 3 + n)
        answers = texts(api, 41)[2:]
    engine = QuoteEngine.open(str(corpus), semantic="off")
    for question, answer in zip(questions, answers, strict=True):
        expected = engine.answer_question(question)
        assert expected.answered, question
        assert plain(answer).startswith(question)
        assert expected.quotes[0].text in plain(answer)
    assert api.rejected == []


def test_sources_are_paged_below_telegrams_limit(api: FakeBotApi, tmp_path: Any) -> None:
    corpus = tmp_path / "many"
    corpus.mkdir()
    names = [f"{n:03d}-" + "a-very-long-title-" * 12 for n in range(45)]
    for name in names:
        (corpus / f"{name}.txt").write_text(f"Document {name[:3]} has 3 lines & <tags>.\n",
                                            encoding="utf-8")
    with polling(api, "--corpus", str(corpus), "--semantic", "off"):
        api.push(api.message_update(42, "/sources"))
        pages = 0
        while True:
            assert api.wait_for(lambda a, n=pages: len(a.sent_to(42)) > n)
            page = api.sent_to(42)[pages]
            pages += 1
            markup = page.get("reply_markup")
            if not markup:
                break
            assert pages < 10, "paging does not end"
            api.push(api.callback_update(42, markup["inline_keyboard"][0][0]["callback_data"],
                                         message_id=page["message_id"]))
    sent = texts(api, 42)
    assert pages >= 2
    listed = re.findall(r"\((\d{3})-a-very", "".join(plain(t) for t in sent))
    assert listed == [name[:3] for name in names]
    assert api.rejected == []


def test_a_corpus_with_control_characters_and_huge_quotes_gives_valid_messages(
        api: FakeBotApi, tmp_path: Any) -> None:
    corpus = tmp_path / "odd"
    corpus.mkdir()
    huge = " ".join(["Tom & Jerry <b>chased</b> \"mice\" & cats"] * 700)
    (corpus / "odd.txt").write_text(
        "Control \x01 characters \x02 in the \x1b[1m ferry \x7f timetable.\n\n"
        f"The ferry {huge} sailed at noon.\n\n"
        f"Another ferry {huge} left the harbour.\n", encoding="utf-8")
    with polling(api, "--corpus", str(corpus), "--semantic", "off"):
        for question in ("control characters in the timetable?", "ferry", "more"):
            api.push(api.message_update(43, question))
        assert api.wait_for(lambda a: len(a.rejected) > 0 or len(a.sent_to(43)) >= 3, 30)
        time.sleep(1.0)
    assert api.rejected == []
    replies = texts(api, 43)
    assert 3 <= len(replies) <= 7
    assert all(plain(r).strip() for r in replies)
    assert "Control characters in the [1m ferry timetable." in " ".join(plain(replies[0]).split())
    # The huge lines are quoted in pieces (sentences are cut at 1,000 characters), markup
    # characters and all, each message within Telegram's limit.
    assert any("Tom & Jerry <b>chased</b>" in plain(r) for r in replies[1:])
    assert all(len(r) <= 4096 for r in replies)


# -- webhook -----------------------------------------------------------------------------------


@contextlib.contextmanager
def webhook(api: FakeBotApi) -> Iterator[Process]:
    """`quotebot serve --log-level DEBUG` taking updates for ``api``'s bot on its webhook."""
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "0",
           # Thousands of answers at Telegram's 30 a second would take minutes; the send
           # limit has its own test.
           "QUOTEBOT_TELEGRAM_SEND_RATE": "0"}
    with serve("--log-level", "DEBUG", env=env) as server:
        yield server


def post_update(server: Process, update: dict[str, Any], secret: str | None = SECRET
                ) -> tuple[int, Any]:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return server.post("/telegram/webhook", update, headers)


#: A chat for each forged call's test, so that the shared server's replies stay apart.
_FORGED_CHATS = itertools.count(2200)


class TestOneWebhookServer(_OneFakeApi):
    """One `quotebot serve` taking updates on its webhook, for the tests that need nothing
    else (each talks in chats of its own)."""

    @pytest.fixture(scope="class")
    @classmethod
    def webhook_server(cls, api: FakeBotApi) -> Iterator[Process]:
        with webhook(api) as server:
            yield server

    def test_webhook_answers_updates_with_the_right_secret(
            self, api: FakeBotApi, webhook_server: Process) -> None:
        status, body = post_update(webhook_server, api.message_update(21, "how many stabbings?"))
        assert (status, body["ok"]) == (200, True)
        assert api.wait_for(lambda a: len(a.sent_to(21)) >= 1)
        assert "with 72 fatal" in texts(api, 21)[0]

    @pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
    def test_webhook_rejects_forged_calls_and_processes_nothing(
            self, api: FakeBotApi, webhook_server: Process, secret: str | None) -> None:
        chat = next(_FORGED_CHATS)
        status, body = post_update(webhook_server,
                                   api.message_update(chat, "how many stabbings?"), secret)
        assert status == 403 and body["error"]["code"] == "forbidden"
        # The same chat's next, genuine update is answered: exactly one reply, to it alone.
        genuine = api.message_update(chat, "who went to New York?")
        assert post_update(webhook_server, genuine)[0] == 200
        assert api.wait_for(lambda a: len(a.sent_to(chat)) >= 1)
        time.sleep(0.5)
        assert len(api.sent_to(chat)) == 1
        assert "Senior Met police officers" in texts(api, chat)[0]

    def test_webhook_handles_malformed_unknown_and_redelivered_updates(
            self, api: FakeBotApi, webhook_server: Process) -> None:
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

    def test_the_token_never_appears_in_logs_or_responses(
            self, api: FakeBotApi, webhook_server: Process) -> None:
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
            self, api: FakeBotApi, webhook_server: Process) -> None:
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

    @pytest.mark.timeout(300)  # about 80 s on two busy cores
    def test_two_thousand_updates_are_each_answered_exactly_once(
            self, api: FakeBotApi, webhook_server: Process) -> None:
        chats = [5000 + n for n in range(200)]
        updates = [api.message_update(chat, "how many stabbings?") for _ in range(10)
                   for chat in chats]
        redelivered = updates[::50]
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(lambda u: post_update(webhook_server, u)[0],
                                     updates + redelivered))
        assert statuses.count(200) == len(updates) + len(redelivered)
        assert api.wait_for(lambda a: sum(len(a.sent_to(c)) for c in chats) >= len(updates), 240)
        time.sleep(0.5)
        counts = {chat: len(api.sent_to(chat)) for chat in chats}
        assert set(counts.values()) == {10}, "an update was lost or answered twice"


@pytest.mark.parametrize(("per_minute", "sent"), [(12, 8), (6, 5), (30, 9)])
def test_a_flooding_chat_gets_exactly_its_burst_then_one_polite_warning(
        api: FakeBotApi, per_minute: int, sent: int) -> None:
    burst = max(1, per_minute // 6)  # bot/ratelimit.py
    assert sent > burst
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url,
           "QUOTEBOT_RATE_LIMIT_CHAT": str(per_minute)}
    with serve(env=env) as server:
        for _ in range(sent):
            assert post_update(server, api.message_update(31, "how many stabbings?"))[0] == 200
        started = time.monotonic()
        post_update(server, api.message_update(32, "how many stabbings?"))
        assert api.wait_for(lambda a: len(a.sent_to(32)) >= 1, 10)
        other_latency = time.monotonic() - started
        assert api.wait_for(lambda a: len(a.sent_to(31)) >= burst + 1, 20)
        time.sleep(1.0)
        flood = texts(api, 31)
    assert ["with 72 fatal" in t for t in flood] == [True] * burst + [False]
    assert "faster than I can read" in flood[-1]
    assert other_latency < 5


def test_the_bot_sends_no_more_than_telegram_allows_per_second(api: FakeBotApi) -> None:
    chats = [7000 + n for n in range(100)]
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "0"}
    with serve(env=env) as server:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda c: post_update(server, api.message_update(c, "more")), chats))
        assert api.wait_for(lambda a: sum(len(a.sent_to(c)) for c in chats) >= len(chats), 120)
    times = sorted(m["sent_at"] for c in chats for m in api.sent_to(c))
    # A bucket of 30 that drains at 30 a second: the last of 100 goes out after 2.3 s.
    assert times[-1] - times[0] >= (len(chats) - 30) / 30 - 0.3
    # Any 61 messages in a row span about a second (30 at once, then 30 a second); 0.7 s
    # leaves room for a busy machine delivering some late together, and still fails at
    # twice the rate or with no limit at all.
    assert all(b - a >= 0.7 for a, b in zip(times, times[60:], strict=False))


def test_serve_registers_the_webhook_and_telegram_removes_it(api: FakeBotApi) -> None:
    url = "https://bot.example.org/telegram/webhook"
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_WEBHOOK_URL": url}
    with serve(env=env):
        assert api.webhook is not None
        assert api.webhook["url"] == url
        assert api.webhook["secret_token"] == SECRET
        assert api.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
        assert api.commands is not None
        assert [c["command"] for c in api.commands] == ["start", "help", "more", "sources",
                                                     "library", "forget"]
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


class GatedRelay:
    """A relay to a Redis (in a thread of its own) whose replies can be held back for a
    moment, as a busy or distant Redis holds them."""

    def __init__(self, redis_port: int) -> None:
        import threading

        self.redis_port = redis_port
        self.open = threading.Event()
        self.open.set()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        import asyncio

        async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self.redis_port)

            async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           gated: bool) -> None:
                while data := await reader.read(65536):
                    while gated and not self.open.is_set():
                        await asyncio.sleep(0.01)
                    writer.write(data)
                    await writer.drain()
                writer.close()

            await asyncio.gather(copy(client_r, redis_w, False), copy(redis_r, client_w, True),
                                 return_exceptions=True)

        async def main() -> None:
            server = await asyncio.start_server(relay, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await asyncio.Event().wait()

        asyncio.run(main())


@pytest.mark.requires("redis-server")
def test_an_update_being_claimed_as_the_server_stops_is_still_answered(
        api: FakeBotApi) -> None:
    """Catches: an update whose claim in Redis was still on its way when Telegram hung up and
    the server was told to stop: the bot stopped before the update was queued, so that
    an update acknowledged to nobody, and claimed (a delivery again is a duplicate), was
    never answered."""
    import signal
    import socket

    from servers import redis_server

    with redis_server() as redis:
        relay = GatedRelay(redis.port)
        env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_RATE_LIMIT_CHAT": "0",
               "QUOTEBOT_TELEGRAM_SEND_RATE": "0",
               "QUOTEBOT_REDIS_URL": f"redis://127.0.0.1:{relay.port}/0"}
        with serve("--log-level", "DEBUG", env=env) as server:
            assert post_update(server, api.message_update(31, "how many stabbings?"))[0] == 200
            assert api.wait_for(lambda a: a.sent_to(31))
            body = json.dumps(api.message_update(32, "how many stabbings?")).encode()
            relay.open.clear()  # Redis's replies are held back from now
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(b"POST /telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/json\r\n"
                             b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode()
                             + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                time.sleep(0.3)  # the claim is on its way to Redis; Telegram hangs up
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.7)
            relay.open.set()
            answered = api.wait_for(lambda a: a.sent_to(32), 15)
            log = server.log()
    assert answered, log[-3000:]
