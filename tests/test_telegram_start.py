"""Start failures of `quotebot serve` (with Telegram on) and `quotebot telegram` (polling,
--set-webhook, --delete-webhook), run as real processes against the local fake Bot API:
each ends with one line on stderr and a non-zero exit, and shows no part of the token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from fake_bot_api import FakeBotApi, free_port

pytestmark = pytest.mark.slow

TOKEN = "7310982245:AAH-quoteBotSecretPart_x9"
SECRET = "wh-secret-Zq81fLm"
WEBHOOK = "https://bot.example.org/telegram/webhook"
COMMANDS = {
    "serve": lambda: ["serve", "--port", str(free_port())],
    "polling": lambda: ["telegram"],
    "set-webhook": lambda: ["telegram", "--set-webhook", WEBHOOK],
    "delete-webhook": lambda: ["telegram", "--delete-webhook"],
}
#: A start must give up within this many seconds, whatever the Bot API does.
BOUND = 45


def secret_parts(token: str = TOKEN) -> list[str]:
    return [token, *token.split(":", 1), SECRET]


def run(command: list[str], base_url: str, *, token: str = TOKEN, log_level: str = "WARNING"
        ) -> tuple[int, str, float]:
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=token, TELEGRAM_WEBHOOK_SECRET=SECRET,
               TELEGRAM_API_BASE_URL=base_url, QUOTEBOT_SEMANTIC="off", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "quotebot", "--log-level", log_level,
                             *command], env=env, capture_output=True, text=True,
                            timeout=BOUND + 30, stdin=subprocess.DEVNULL, check=False)
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def assert_one_clean_line(status: int, output: str, token: str = TOKEN) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert status != 0, output
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: "), output
    for part in secret_parts(token):
        assert part not in output, f"{part!r} was shown: {output}"
    return lines[0]


@pytest.fixture()
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there


@pytest.fixture()
def rejecting_api(request: pytest.FixtureRequest) -> Iterator[FakeBotApi]:
    with FakeBotApi(TOKEN, reject=request.param) as api:
        yield api


@pytest.fixture()
def silent_api() -> Iterator[FakeBotApi]:
    with FakeBotApi(TOKEN, silent=True) as api:
        yield api


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_bot_api_is_one_line_naming_the_setting(command: str,
                                                               closed_port_url: str) -> None:
    status, output, _ = run(COMMANDS[command](), closed_port_url)
    line = assert_one_clean_line(status, output)
    assert "could not reach the Bot API" in line and "TELEGRAM_API_BASE_URL" in line


@pytest.mark.parametrize(("command", "rejecting_api"),
                         [("serve", 401), ("polling", 401), ("set-webhook", 401),
                          ("delete-webhook", 401), ("serve", 404), ("polling", 404)],
                         indirect=["rejecting_api"])
def test_a_rejected_token_is_one_line_without_the_token(command: str,
                                                        rejecting_api: FakeBotApi) -> None:
    status, output, _ = run(COMMANDS[command](), rejecting_api.base_url)
    line = assert_one_clean_line(status, output)
    assert "rejected the token" in line and "@BotFather" in line
    assert rejecting_api.calls, "the Bot API was never asked"


@pytest.mark.parametrize("command", ["serve", "polling", "delete-webhook"])
def test_a_base_url_without_bot_is_refused_before_the_token_is_sent(command: str) -> None:
    with FakeBotApi(TOKEN) as api:
        status, output, _ = run(COMMANDS[command](), f"http://127.0.0.1:{api.port}")
        line = assert_one_clean_line(status, output)
        assert status == 2 and "must end in /bot" in line
        assert api.calls == []


@pytest.mark.parametrize(("command", "base_url"), [
    ("serve", "not a url"), ("polling", "127.0.0.1:8081/bot"), ("serve", "ftp://example.org/bot"),
    ("polling", "http://127.0.0.1:99999/bot"), ("set-webhook", "http:///bot"),
    ("polling", "http://127.0.0.1:port/bot")])
def test_a_base_url_that_is_not_a_url_is_one_line(command: str, base_url: str) -> None:
    status, output, _ = run(COMMANDS[command](), base_url)
    line = assert_one_clean_line(status, output)
    assert status == 2 and "TELEGRAM_API_BASE_URL" in line


@pytest.mark.parametrize(("command", "token"), [
    ("polling", "7310982245:AAH/../../getMe#x"), ("serve", "7310982245:AAH secret part"),
    ("polling", "7310982245:AAH?offset=1&x"), ("serve", "7310982245:ÄAH-quoteBot"),
    ("polling", "7310982245:AAH%2Fquote"), ("delete-webhook", "AAH-quoteBotSecretPart_x9"),
    ("polling", "7310982245:AAH\x00quote"), ("set-webhook", "7310982245:AAH-quote\nline2")])
def test_a_token_with_odd_characters_is_refused_without_showing_it(command: str,
                                                                   token: str,
                                                                   closed_port_url: str) -> None:
    if "\x00" in token:  # an environment variable cannot hold NUL; --token cannot either
        token = token.replace("\x00", "\x01")
    status, output, _ = run(COMMANDS[command](), closed_port_url, token=token)
    line = assert_one_clean_line(status, output, token)
    assert status == 2 and "is not a bot token" in line
    for piece in ("AAH", "quoteBot", "secret part"):
        assert piece not in output


def test_a_token_with_surrounding_blanks_is_used_without_them(closed_port_url: str) -> None:
    with FakeBotApi(TOKEN) as api:
        status, output, _ = run(["telegram", "--delete-webhook"], api.base_url,
                                token=f"  {TOKEN}\r\n")
        assert status == 0, output
        assert any(method == "deleteWebhook" for method, _ in api.calls)
        for part in secret_parts():
            assert part not in output


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bot_api_that_never_answers_is_given_up_on_in_bounded_time(
        command: str, silent_api: FakeBotApi) -> None:
    status, output, elapsed = run(COMMANDS[command](), silent_api.base_url)
    line = assert_one_clean_line(status, output)
    assert "did not answer in time" in line
    assert elapsed < BOUND


_AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
    "sys.argv = ['quotebot', *sys.argv[1:]]\n"
    "runpy.run_module('quotebot', run_name='__main__', alter_sys=True)\n")


@pytest.mark.parametrize("command", ["serve", "polling", "delete-webhook"])
def test_ctrl_c_while_starting_is_one_line(command: str, silent_api: FakeBotApi) -> None:
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
               TELEGRAM_API_BASE_URL=silent_api.base_url, QUOTEBOT_SEMANTIC="off")
    # Ctrl-C as a terminal delivers it: whatever this test process inherited (a run in the
    # background starts with SIGINT ignored, and an ignored signal stays ignored across
    # exec), quotebot starts with Python's own SIGINT handler, unblocked.
    proc = subprocess.Popen([sys.executable, "-c", _AS_FROM_A_TERMINAL, *COMMANDS[command]()],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        assert silent_api.wait_for(lambda a: bool(a.calls), 30), "the bot never called the API"
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as status:
            signals = [line for line in status.read().splitlines()
                       if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    line = assert_one_clean_line(proc.returncode, output)
    assert proc.returncode == 130 and "Stopped before" in line, (proc.returncode, output, signals)


@pytest.mark.parametrize(("command", "mode"), [
    ("serve", "closed"), ("polling", "401"), ("set-webhook", "silent"),
    ("delete-webhook", "401"), ("serve", "401"), ("polling", "closed")])
def test_with_debug_logs_a_failed_start_ends_with_the_error_and_shows_no_secret(
        command: str, mode: str) -> None:
    """With --log-level DEBUG the log lines come first (python-telegram-bot's and httpx's
    among them, whose URLs hold the token); the last line is the error; no traceback."""
    api = FakeBotApi(TOKEN, reject=401 if mode == "401" else None, silent=mode == "silent")
    with api:
        base = f"http://127.0.0.1:{free_port()}/bot" if mode == "closed" else api.base_url
        status, output, _ = run(COMMANDS[command](), base, log_level="DEBUG")
    lines = [line for line in output.splitlines() if line.strip()]
    assert status != 0
    assert lines[-1].startswith("Error: Could not"), output
    assert "DEBUG" in output  # the debug log is really there
    assert "Traceback" not in output
    for part in secret_parts():
        assert part not in output, f"{part!r} was logged"


def test_serve_on_a_port_in_use_is_one_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with FakeBotApi(TOKEN) as api:
            status, output, _ = run(["serve", "--port", str(port)], api.base_url)
    line = assert_one_clean_line(status, output)
    assert f"127.0.0.1:{port}" in line


@pytest.mark.parametrize("args", [
    ["telegram", TOKEN],
    ["telegram", "--token", TOKEN, "--rate-limit-chat", TOKEN],
    ["serve", f"--webhook-secret={SECRET}", "--port", SECRET],
    ["serve", "--rate-limit-ip", TOKEN.split(":")[1] + "x"],
])
def test_usage_errors_do_not_repeat_a_secret(args: list[str]) -> None:
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET)
    result = subprocess.run([sys.executable, "-m", "quotebot", *args], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Error: " in result.stderr
    for part in secret_parts():
        assert part not in result.stdout + result.stderr


REDACTION_SCRIPT = """
import logging, sys, threading, warnings
from urllib.parse import quote
from quotebot.logs import configure_logging
from quotebot.bot.config import install_redaction
configure_logging("DEBUG", sys.argv[1])
install_redaction(sys.argv[2], sys.argv[3])
token, secret = sys.argv[2], sys.argv[3]
late = logging.getLogger("added.later")
late.propagate = False
late.addHandler(logging.StreamHandler(sys.stdout))
for log in (logging.getLogger("telegram.ext.ExtBot"), late):
    log.debug("POST https://api.telegram.org/bot%s/getMe", token)
    log.info("quoted %s, parts %s and %s", quote(token, safe=""), *token.split(":"))
    log.warning("secret %s", secret)
    try:
        raise ValueError(f"Invalid port: '8081{token}'")
    except ValueError:
        log.exception("failed")
warnings.warn(f"a warning about {token}")
thread = threading.Thread(target=lambda: int(token))
thread.start()
thread.join()
raise RuntimeError(f"uncaught {secret} {token}")
"""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_log_line_and_traceback_is_masked_whatever_writes_it(log_format: str) -> None:
    result = subprocess.run([sys.executable, "-c", REDACTION_SCRIPT, log_format, TOKEN, SECRET],
                            capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert output.count("***") >= 12, output  # every line was written, masked
    assert "Invalid port" in output and "uncaught" in output and "a warning about" in output
    for part in secret_parts():
        assert part not in output, f"{part!r} leaked: {output}"
