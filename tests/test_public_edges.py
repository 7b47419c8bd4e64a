"""What a hostile or unlucky client can send a real `quotebot serve`, and what it gets back:
raw bytes that are not HTTP, forged log lines, a secret header that is not UTF-8, and
settings that cannot work."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from fake_bot_api import FakeBotApi, free_port
from servers import Process, serve

pytestmark = pytest.mark.slow

SECRET = "edge-webhook-secret"


@pytest.fixture(scope="module")
def server() -> Iterator[Process]:
    with serve("--log-level", "INFO", env={"QUOTEBOT_SEMANTIC": "off"}) as process:
        yield process


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


NOT_HTTP = [
    ("garbage", b"GARBAGE\r\n\r\n"),
    ("tls hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40),
    ("header without a colon", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
    ("header name with a space", b"GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n"),
    ("control byte in a header", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("request line over 8 KB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header over 8 KB", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"),
    ("space in the path", b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("unknown version", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("bad content-length", b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("two content-lengths", b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            b"Content-Length: 3\r\n\r\n{}"),
    ("length and chunked", b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("bad chunk size", b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"),
    ("unknown transfer coding", b"POST /v1/ask HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: rot13\r\n\r\n"),
]


@pytest.mark.parametrize("data", [case[1] for case in NOT_HTTP],
                         ids=[case[0] for case in NOT_HTTP])
def test_bytes_that_are_not_http_get_the_json_error_shape(server: Process, data: bytes) -> None:
    status, headers, body = raw_exchange(server.port, data)
    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"}
    assert error["code"] in {"malformed_request", "line_too_long", "invalid_body"}
    assert len(error["message"]) > 20 and "aiohttp" not in error["message"]
    # and the server goes on answering
    status, _, body = raw_exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                                b"Connection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["status"] == "ok"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_path_cannot_write_a_line_into_the_log(log_format: str) -> None:
    forged = "/x%0a2026-01-01 00:00:00,000 WARNING quotebot.bot.server: FORGED-LINE%1b[31m%0d%c2%85"
    with serve("--log-level", "INFO", "--log-format", log_format,
               env={"QUOTEBOT_SEMANTIC": "off"}) as process:
        status, _, _ = raw_exchange(process.port, f"GET {forged.replace(' ', '%20')} HTTP/1.1"
                                                  f"\r\nHost: x\r\nConnection: close\r\n\r\n"
                                                  .encode())
        assert status == 404
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(process.url + "/v1/docs/%0a%0dFORGED-LINE%e2%80%a8", timeout=10)
        time.sleep(0.3)
        log = process.log()
    assert not any(c in log for c in ("\x1b", "\r", "\x85", "\u2028"))
    marked = [line for line in log.splitlines() if "FORGED-LINE" in line]
    assert len(marked) >= 2
    for line in marked:
        if log_format == "json":
            record = json.loads(line)
            assert record["logger"] == "quotebot.bot.server"
            assert record["message"].startswith("GET /")
            assert "\n" in record["message"]  # kept, as JSON escapes it
        else:
            assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO quotebot\.bot\.server "
                            r"\[[0-9a-f]+\]: GET /", line), line
            assert "\\n" in line
    if log_format == "text":
        assert any("\\n2026-01-01" in line and "\\x1b[31m" in line for line in marked)
        assert any("\\n\\rFORGED-LINE\\u2028" in line for line in marked)


def test_a_malformed_redis_url_is_one_line_before_anything_loads() -> None:
    for url in ("localhost:6379", "redis://:hunter2-secret@localhost:notaport/0",
                "http://localhost:6379", "redis://localhost/zero"):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "quotebot", "serve", "--port",
                                 str(free_port()), "--redis-url", url],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and not result.stdout, result.stderr
        assert "--redis-url" in lines[0] and "redis://localhost:6379/0" in lines[0]
        assert "hunter2" not in result.stderr
        assert time.monotonic() - started < 20
    env = dict(os.environ, TELEGRAM_BOT_TOKEN="123456:never-used", QUOTEBOT_REDIS_URL="x:1")
    result = subprocess.run([sys.executable, "-m", "quotebot", "telegram"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "QUOTEBOT_REDIS_URL" in result.stderr and "never-used" not in result.stderr


def test_a_webhook_secret_header_that_is_not_utf8_is_refused_with_403() -> None:
    with FakeBotApi() as api, serve(env={
            "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": api.base_url, "QUOTEBOT_SEMANTIC": "off"}) as process:
        update = json.dumps(api.message_update(61, "how many stabbings?")).encode()

        def post(secret_lines: bytes) -> tuple[int, bytes]:
            status, _, body = raw_exchange(process.port, (
                b"POST /telegram/webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\n" + secret_lines +
                b"Content-Length: " + str(len(update)).encode() + b"\r\n\r\n" + update))
            return status, body

        for secret in (b"\xff\xfe", SECRET.encode() + b"\x80", b"\xc3\x28" + SECRET.encode(),
                       "секрет".encode("cp1251")):
            status, body = post(b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n")
            assert status == 403, body
            assert json.loads(body)["error"]["code"] == "forbidden"
        # The right secret sent twice with a wrong one is not the right secret.
        twice = (b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode() + b"\r\n"
                 b"X-Telegram-Bot-Api-Secret-Token: wrong\r\n")
        assert post(twice)[0] == 403
        time.sleep(0.5)
        assert api.sent_to(61) == []
        assert post(b"x-telegram-bot-api-secret-token: " + SECRET.encode() + b"\r\n")[0] == 200
        assert api.wait_for(lambda a: len(a.sent_to(61)) == 1)
        assert "Traceback" not in process.log()
