"""Adding a link: pages, PDFs and text come from public addresses only, within a time limit, a
size cap and a few redirects, each refused or failed link with its own code and a message
that names the host and never the path.

Every test dials through LoopbackOnly, which connects to 127.0.0.1 only: a public address
the test resolver hands out (PUBLIC) stands for the local server, and any other address
fails the test, so a test cannot send traffic off this machine even if the checks regress.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
import pytest
from aiohttp import web

from quotebot.ingest import load_source, load_source_async
from quotebot.ingest.fetch import (
    ALLOW_PRIVATE_ENV,
    FetchedPage,
    FetchError,
    FetchPolicy,
    fetch_url,
    fetch_url_async,
    is_public_address,
)

from conftest import run_main
from pages import NEWS_PAGE, article_page, page_site

FIXTURES = Path(__file__).parent / "fixtures"
PUBLIC = "93.184.216.34"
MB = 1024 * 1024


class LoopbackOnly(httpcore.AnyIOBackend):
    """Dials PUBLIC and loopback addresses on 127.0.0.1 / ::1, and nothing else."""

    def __init__(self) -> None:
        self.dialled: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        self.dialled.append(host)
        if host == PUBLIC:
            host = "127.0.0.1"
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"a test tried to connect to {host}")
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


@dataclass
class FakeDNS:
    """A resolver with fixed answers; a list of answer lists is given out one per lookup."""

    answers: dict[str, list[list[str]]]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def dns(**names: str | list[str]) -> FakeDNS:
    """``dns(news_example="93.…")``: underscores in a name stand for dots."""
    return FakeDNS({host.replace("_", "."): [[a] if isinstance(a, str) else a]
                    for host, a in names.items()})


# -- a local server --------------------------------------------------------------------------


@dataclass
class Server:
    port: int
    sent: dict[str, int]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _app(sent: dict[str, int], port: list[int]) -> web.Application:
    article = NEWS_PAGE.read_bytes()

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=article, content_type="text/html", charset="utf-8")

    async def echo_host(request: web.Request) -> web.Response:
        body = (f"<html><body><article><p>This page was asked for as {request.host}, and it "
                "answers with a sentence long enough to be an article.</p></article></body>"
                "</html>")
        return web.Response(text=body, content_type="text/html")

    async def plain(request: web.Request) -> web.Response:
        text = "Un café à Kelsey Bay\nLe café de la place a rouvert lundi.\n"
        return web.Response(body=text.encode("latin-1"), content_type="text/plain",
                            charset="iso-8859-1")

    async def pdf(request: web.Request) -> web.Response:
        return web.Response(body=(FIXTURES / "river-report.pdf").read_bytes(),
                            content_type="application/pdf")

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound("/article" if n == 0 else f"/redirect/{n - 1}")

    async def relative(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("../article")

    async def to(request: web.Request) -> web.Response:
        target = request.query["target"].replace("PORT", str(port[0]))
        raise web.HTTPFound(target)

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        chunk = b"<p>" + b"more words " * 6000 + b"</p>\n"
        sent["endless"] = 0
        try:
            for _ in range(2000):  # at most about 130 MB, should the client never stop
                await response.write(chunk)
                sent["endless"] += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def declared_large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html",
                                               "Content-Length": str(50 * MB)})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(b"<html>")
        return response

    async def gzip_bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b"<p>" + b"a" * (40 * MB) + b"</p>", compresslevel=9)
        sent["gzip"] = len(body)
        return web.Response(body=body, headers={"Content-Type": "text/html",
                                                "Content-Encoding": "gzip"})

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(article), headers={
            "Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})

    async def video(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x00\x00\x18ftypmp42", content_type="video/mp4")

    async def late(request: web.Request) -> web.Response:
        await asyncio.sleep(0.4)  # a slow site: a blocking fetch would hold the loop this long
        return await page(request)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="<p>late</p>", content_type="text/html")

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            for _ in range(30):  # a byte every 0.1 s: each read is quick, the whole is not
                await response.write(b"<")
                await asyncio.sleep(0.1)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    app = web.Application()
    app.add_routes([
        web.get("/article", page), web.get("/news/2024/article", page),
        web.get("/news/article", page), web.get("/late/article", late),
        web.get("/echo-host", echo_host), web.get("/plain.txt", plain),
        web.get("/report.pdf", pdf), web.get("/redirect/{n}", redirect),
        web.get("/news/2024/moved", relative), web.get("/to", to),
        web.get("/endless", endless), web.get("/declared-large", declared_large),
        web.get("/gzip-bomb", gzip_bomb), web.get("/gzipped", gzipped),
        web.get("/video.mp4", video), web.get("/slow", slow), web.get("/drip", drip),
        web.get("/private/secret-report", missing),
    ])
    return app


def _serve(app: web.Application, ssl_context: ssl.SSLContext | None = None
           ) -> Iterator[int]:
    """Serve ``app`` on a free 127.0.0.1 port from a thread of its own."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=2.0, handler_cancellation=True)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    loop.run_until_complete(site.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    sent: dict[str, int] = {}
    port: list[int] = []
    for number in _serve(_app(sent, port)):
        port.append(number)
        yield Server(number, sent)


@pytest.fixture()
def private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")


@pytest.fixture()
def public_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)


def fetch(url: str, *, resolver: FakeDNS | None = None, dial: LoopbackOnly | None = None,
          **limits: float) -> FetchedPage:
    policy = FetchPolicy(**limits) if resolver is None else FetchPolicy(resolver=resolver,
                                                                         **limits)
    return fetch_url(url, policy=policy, dial=dial or LoopbackOnly())


def refused(url: str, code: str, **kwargs: object) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == code, info.value.message
    return info.value


# -- what a link gives -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("private_allowed")
def test_a_link_to_a_news_page_gives_the_article_with_where_it_came_from(server: Server) -> None:
    [doc] = load_source(server.url("/news/2024/article"))
    assert doc.title == "Kelsey Bay votes to rebuild its sea wall after winter storms"
    assert doc.url == server.url("/news/2024/article")
    assert doc.author == "Amira Holt" and doc.date == "2024-03-14"
    assert doc.text.splitlines()[1].startswith("Councillors backed the £14.2 million plan")
    assert doc.text.splitlines()[2].startswith("Councillors in Kelsey Bay have voted")
    assert "Related stories" not in doc.text and "cookies" not in doc.text


@pytest.mark.usefixtures("private_allowed")
def test_a_link_to_a_pdf_or_to_text_gives_its_text(server: Server) -> None:
    [report] = load_source(server.url("/report.pdf"))
    assert report.title == "The River Report"
    assert "Repairs are expected to cost £380,000." in report.text
    [note] = load_source(server.url("/plain.txt"))
    assert note.title == "Un café à Kelsey Bay"
    assert note.text == "Un café à Kelsey Bay\nLe café de la place a rouvert lundi.\n"
    assert note.url == server.url("/plain.txt")


@pytest.mark.usefixtures("private_allowed")
async def test_an_event_loop_fetches_and_extracts_without_blocking(server: Server) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        docs = await asyncio.gather(*(load_source_async(server.url(path))
                                      for path in ("/late/article", "/report.pdf", "/plain.txt")))
    finally:
        task.cancel()
    assert [d[0].title for d in docs] == [
        "Kelsey Bay votes to rebuild its sea wall after winter storms", "The River Report",
        "Un café à Kelsey Bay"]
    # The loop went on running while the slow page was awaited: a fetch that blocked would
    # have let the ticker in a few times at most in those 0.4 s, however busy the machine.
    assert ticks >= 20


@pytest.mark.usefixtures("private_allowed")
def test_a_compressed_page_is_read(server: Server) -> None:
    page = fetch(server.url("/gzipped"))
    assert page.body == NEWS_PAGE.read_bytes()


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.usefixtures("private_allowed")
def test_redirects_are_followed_up_to_five(server: Server) -> None:
    page = fetch(server.url("/redirect/4"))  # 5 redirects: 4, 3, 2, 1, 0 -> /article
    assert page.url == server.url("/article")
    assert page.kind == "html"
    moved = fetch(server.url("/news/2024/moved"))
    assert moved.url == server.url("/news/article")


@pytest.mark.usefixtures("private_allowed")
def test_a_sixth_redirect_is_refused(server: Server) -> None:
    error = refused(server.url("/redirect/5"), "url_fetch_failed")
    assert "redirected more than 5 times" in error.message
    assert "/redirect" not in error.message


@pytest.mark.usefixtures("private_allowed")
def test_a_redirect_to_another_scheme_is_refused(server: Server) -> None:
    error = refused(server.url("/to?target=file:///etc/passwd"), "url_not_allowed")
    assert "passwd" not in error.message


# -- limits ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("private_allowed")
def test_an_endless_page_stops_at_the_size_cap_while_streaming(server: Server) -> None:
    started = time.monotonic()
    error = refused(server.url("/endless"), "url_too_large", max_bytes=1 * MB)
    assert time.monotonic() - started < 10
    assert "larger than 1 MB" in error.message
    time.sleep(0.3)  # for the server to find the connection closed
    # The server was cut off long before it had sent all it would (about 130 MB).
    assert server.sent["endless"] < 20 * MB


@pytest.mark.usefixtures("private_allowed")
def test_a_page_that_says_it_is_too_large_is_not_read(server: Server) -> None:
    refused(server.url("/declared-large"), "url_too_large")


@pytest.mark.slow
@pytest.mark.usefixtures("private_allowed")
def test_a_compressed_page_is_capped_by_what_it_inflates_to(server: Server) -> None:
    error = refused(server.url("/gzip-bomb"), "url_too_large", max_bytes=2 * MB)
    assert server.sent["gzip"] < 2 * MB  # small on the wire, 40 MB inflated
    assert "larger than 2 MB" in error.message


@pytest.mark.usefixtures("private_allowed")
@pytest.mark.parametrize(("path", "kind"), [("/video.mp4", "video/mp4")])
def test_a_file_that_is_not_a_page_pdf_or_text_is_refused(server: Server, path: str,
                                                          kind: str) -> None:
    error = refused(server.url(path), "url_unsupported_type")
    assert kind in error.message and "PDF" in error.message


@pytest.mark.usefixtures("private_allowed")
def test_a_server_that_does_not_answer_in_time_is_given_up(server: Server) -> None:
    started = time.monotonic()
    refused(server.url("/slow"), "url_timeout", timeout=0.5)
    assert time.monotonic() - started < 2


@pytest.mark.usefixtures("private_allowed")
def test_the_time_limit_is_for_the_whole_page_not_each_read(server: Server) -> None:
    started = time.monotonic()
    error = refused(server.url("/drip"), "url_timeout", timeout=0.8)
    assert time.monotonic() - started < 2
    assert "0.8 seconds" in error.message


@pytest.mark.usefixtures("private_allowed")
def test_failures_name_the_host_and_never_the_path(server: Server) -> None:
    not_found = refused(server.url("/private/secret-report"), "url_fetch_failed")
    assert "404" in not_found.message and "127.0.0.1" in not_found.message
    assert "secret" not in not_found.message
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = refused(f"http://127.0.0.1:{closed_port}/private/secret-report",
                          "url_fetch_failed")
    assert "secret" not in unreachable.message and "127.0.0.1" in unreachable.message
    unknown = refused("http://no-such-host.example/private/secret-report", "url_fetch_failed",
                      resolver=dns())
    assert "no-such-host.example" in unknown.message and "secret" not in unknown.message


# -- addresses -------------------------------------------------------------------------------


@pytest.mark.usefixtures("public_only")
@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]",
                                  "localhost", "[fd00:ec2::254]", "0.0.0.0", "192.168.1.1",
                                  "[::ffff:127.0.0.1]", "100.100.100.200", "2130706433"])
def test_private_local_and_metadata_addresses_are_refused(server: Server, host: str) -> None:
    dial = LoopbackOnly()
    port = server.port if host in ("127.0.0.1", "localhost", "[::1]") else 80
    policy = FetchPolicy()  # the system's resolver: localhost is 127.0.0.1 or ::1
    with pytest.raises(FetchError) as info:
        fetch_url(f"http://{host}:{port}/article", policy=policy, dial=dial)
    assert info.value.code == "url_not_allowed"
    assert dial.dialled == []


@pytest.mark.usefixtures("public_only")
def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    resolver = dns(intranet_example="10.20.30.40", sneaky_example=[PUBLIC, "127.0.0.1"])
    dial = LoopbackOnly()
    for host in ("intranet.example", "sneaky.example"):
        error = refused(f"http://{host}/", "url_not_allowed", resolver=resolver, dial=dial)
        assert host in error.message and "private" in error.message
    assert dial.dialled == []


@pytest.mark.usefixtures("public_only")
@pytest.mark.parametrize("target", [
    "http://intranet.example:PORT/article",  # a name that resolves to 10.20.30.40
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:PORT/article",
    "http://[::1]:PORT/article",
])
def test_a_redirect_from_a_public_address_to_a_private_one_is_refused(
        server: Server, target: str) -> None:
    resolver = dns(news_example=PUBLIC, intranet_example="10.20.30.40")
    dial = LoopbackOnly()
    error = refused(server.url(f"/to?target={target}", host="news.example"), "url_not_allowed",
                    resolver=resolver, dial=dial)
    assert dial.dialled == [PUBLIC]
    assert "meta-data" not in error.message


@pytest.mark.usefixtures("public_only")
def test_the_connection_goes_to_the_address_that_was_checked(server: Server) -> None:
    # The name answers a public address once and a loopback one after that (DNS rebinding):
    # the request keeps to the checked address, with the name in its Host header.
    resolver = FakeDNS({"news.example": [[PUBLIC], ["127.0.0.1"]]})
    dial = LoopbackOnly()
    page = fetch(server.url("/echo-host", host="news.example"), resolver=resolver, dial=dial)
    assert f"asked for as news.example:{server.port}".encode() in page.body
    assert dial.dialled == [PUBLIC]
    assert resolver.asked == ["news.example"]


@pytest.mark.usefixtures("private_allowed")
def test_private_addresses_are_allowed_when_the_environment_says_so(server: Server) -> None:
    page = fetch(server.url("/article", host="localhost"))
    assert page.kind == "html"


@pytest.mark.usefixtures("public_only")
@pytest.mark.parametrize(("url", "code"), [
    ("ftp://example.org/file.txt", "url_not_allowed"),
    ("file:///etc/passwd", "url_not_allowed"),
    ("javascript://alert(1)", "url_not_allowed"),
    ("http://user:hunter2@example.org/", "url_not_allowed"),
    ("http:///no-host", "url_invalid"),
    ("", "url_invalid"),
    ("http://exa mple.org/", "url_invalid"),
])
def test_links_other_than_plain_http_and_https_are_refused(url: str, code: str) -> None:
    dial = LoopbackOnly()
    error = refused(url, code, resolver=dns(example_org=PUBLIC), dial=dial)
    assert "hunter2" not in error.message and "passwd" not in error.message
    assert dial.dialled == []


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700::1111", True), ("8.8.8.8", True),
    ("127.0.0.2", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.0.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("100.100.100.200", False),
    ("168.63.129.16", False), ("0.0.0.0", False), ("255.255.255.255", False),
    ("224.0.0.251", False), ("239.1.2.3", False), ("240.0.0.1", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fd00:ec2::254", False),
    ("ff02::1", False), ("::ffff:10.0.0.1", False), ("::ffff:93.184.216.34", True),
    ("64:ff9b::7f00:1", False), ("64:ff9b::5db8:d822", True), ("2002:7f00:1::", False),
    ("2001:db8::1", False),
])
def test_which_addresses_count_as_public(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# -- TLS keeps the name ----------------------------------------------------------------------


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.mark.usefixtures("public_only")
def test_https_checks_the_certificate_and_sends_the_name_to_the_checked_address(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _certificate(tmp_path, "news.example")
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)  # type: ignore[assignment,misc,return-value]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    for port in _serve(_app({}, []), ssl_context=context):
        dial = LoopbackOnly()
        resolver = dns(news_example=PUBLIC, other_example=PUBLIC)
        page = fetch_url(f"https://news.example:{port}/echo-host",
                         policy=FetchPolicy(resolver=resolver), dial=dial)
        assert f"asked for as news.example:{port}".encode() in page.body
        assert server_names == ["news.example"] and dial.dialled == [PUBLIC]
        # The same server under a name its certificate does not have is refused.
        with pytest.raises(FetchError) as info:
            fetch_url(f"https://other.example:{port}/echo-host",
                      policy=FetchPolicy(resolver=resolver), dial=dial)
        assert info.value.code == "url_fetch_failed"
        assert "certificate" in info.value.message


@pytest.mark.usefixtures("private_allowed")
async def test_the_blocking_fetch_also_works_from_inside_an_event_loop(server: Server) -> None:
    page = fetch_url(server.url("/plain.txt"), dial=LoopbackOnly())
    assert page.kind == "text" and page.charset == "iso-8859-1"


async def test_the_async_fetch_refuses_what_the_sync_one_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    dial = LoopbackOnly()
    with pytest.raises(FetchError) as info:
        await fetch_url_async("http://169.254.169.254/latest/meta-data/", dial=dial)
    assert info.value.code == "url_not_allowed" and dial.dialled == []


@pytest.mark.parametrize("charset", ["idna", "undefined"])
def test_a_page_in_a_charset_that_cannot_be_read_is_one_clear_error(tmp_path: Path,
                                                                     charset: str) -> None:
    page = article_page("Ferry returns", ["The ferry to Kelsey Bay returns on Monday after six "
                                          "weeks of repairs to its engine."])
    with page_site({"/ferry": (page, f"text/html; charset={charset}")}) as site:
        env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_ALLOW_PRIVATE_URLS": "1"}
        shown = run_main("add", site.url("/ferry"), "--to", str(tmp_path / "lib"), env=env)
        as_json = run_main("add", site.url("/ferry"), "--to", str(tmp_path / "lib"), "--json",
                           env=env)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    errors = [line for line in shown.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"character set {charset!r}" in errors[0], shown.stderr
    assert json.loads(as_json.stdout.splitlines()[0])["error"]["code"] == "unreadable_page"
