"""The rules of fetching a link, one at a time: which links are refused and with which
sentence, which addresses a host may be reached at, how a body is inflated within the size
cap, what kind of file a body without a type is, and what a failed connection is called.
The answers no well-behaved server sends (no type, an unknown encoding, a broken gzip, an
answer cut off) come from a few bytes written by hand on a local socket; ``test_fetch.py``
checks the rest through a real local web server.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Iterator, Sequence

import httpx
import pytest

from quotebot.ingest.fetch import (
    ALLOW_PRIVATE_ENV,
    MAX_URL_CHARS,
    CheckedNetwork,
    FetchError,
    FetchPolicy,
    _Decoder,
    _reason,
    _sniff,
    _too_large,
    check_link,
    check_url,
    fetch_url,
    is_public_address,
)

NOT_A_LINK = "That is not a link quotebot can read: give an http:// or https:// address."


def refused(url: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        check_url(url)
    return info.value


# -- the link itself ------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "code", "message"), [
    ("", "url_invalid", NOT_A_LINK),
    ("   ", "url_invalid", NOT_A_LINK),
    ("http://" + "a" * MAX_URL_CHARS, "url_invalid", NOT_A_LINK),
    ("http://[::1", "url_invalid", NOT_A_LINK),
    ("ftp://example.org/a", "url_not_allowed",
     "quotebot fetches only http and https links, not ftp ones."),
    ("example.org/a", "url_not_allowed",
     "quotebot fetches only http and https links, not this ones."),
    ("http:///a", "url_invalid",
     "That link has no host name: give an http:// or https:// address."),
    ("http://exa mple.org/", "url_invalid",
     "That link's host name is not one quotebot can look up."),
    ("http://exa!mple.org/", "url_invalid",
     "That link's host name is not one quotebot can look up."),
    ("https://ann:secret@example.org/a", "url_not_allowed",
     "quotebot does not fetch links with a user name or password in them (the link to "
     "example.org)."),
])
def test_a_link_that_cannot_be_fetched_says_why_in_one_sentence(url: str, code: str,
                                                                message: str) -> None:
    error = refused(url)
    assert (error.code, error.message) == (code, message)
    assert error.http_status == 400


@pytest.mark.parametrize("url", ["http://example.org/a", " https://news.example.org:8443/x?y=1 ",
                                 "http://93.184.216.34/", "http://[2606:4700::1]/",
                                 "http://under_score.example.org/"])
def test_a_plain_http_or_https_link_is_taken_as_it_is(url: str) -> None:
    assert str(check_url(url)) == url.strip()
    assert check_url(httpx.URL(url.strip())) == httpx.URL(url.strip())


def test_each_kind_of_failure_has_its_http_status() -> None:
    statuses = {code: FetchError("x", code=code).http_status
                for code in ("url_invalid", "url_not_allowed", "url_fetch_failed",
                             "url_timeout", "url_too_large", "url_unsupported_type", "other")}
    assert statuses == {"url_invalid": 400, "url_not_allowed": 400, "url_fetch_failed": 502,
                        "url_timeout": 504, "url_too_large": 413,
                        "url_unsupported_type": 415, "other": 502}


def test_a_page_too_large_says_the_cap_in_megabytes() -> None:
    error = _too_large("news.example.org", FetchPolicy(max_bytes=3 * 1024 * 1024 // 2))
    assert (error.code, error.message) == ("url_too_large", (
        "The page from news.example.org is larger than 1.5 MB; quotebot reads smaller "
        "articles."))


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700::1", True),
    ("10.0.0.1", False), ("127.0.0.1", False), ("::1", False), ("0.0.0.0", False),
    ("169.254.1.1", False), ("224.0.0.1", False), ("240.0.0.1", False),
    ("100.64.0.1", False), ("168.63.129.16", False), ("100.100.100.200", False),
    ("::ffff:127.0.0.1", False), ("::ffff:93.184.216.34", True),
    ("64:ff9b::7f00:1", False), ("64:ff9b::5db8:d822", True),
    ("2002:7f00:1::", False), ("fe80::1", False), ("fd00:ec2::254", False),
])
def test_only_addresses_on_the_public_internet_are_public(address: str, public: bool) -> None:
    import ipaddress

    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(("value", "allowed"), [
    ("1", True), ("true", True), (" YES ", True), ("True", True),
    ("0", False), ("", False), ("no", False), ("2", False),
])
def test_private_addresses_are_allowed_only_when_the_environment_says_so(
        monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool) -> None:
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, value)
    assert FetchPolicy().private_allowed() is allowed
    assert FetchPolicy(allow_private=not allowed).private_allowed() is (not allowed)


class Resolver:
    def __init__(self, *answers: str, error: Exception | None = None) -> None:
        self.answers = list(answers)
        self.error = error
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if self.error is not None:
            raise self.error
        return self.answers


async def test_a_host_is_resolved_once_with_its_port_and_every_answer_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    resolver = Resolver("93.184.216.34", "2606:4700::1%eth0")
    network = CheckedNetwork(FetchPolicy(resolver=resolver))
    assert await network.checked_addresses("news.example.org", 8443) == [
        "93.184.216.34", "2606:4700::1"]
    assert resolver.asked == [("news.example.org", 8443)]
    # An address written in the link is not looked up.
    assert await network.checked_addresses("[2606:4700::1]", 80) == ["2606:4700::1"]
    assert resolver.asked == [("news.example.org", 8443)]


@pytest.mark.parametrize("resolver", [
    Resolver(), Resolver(error=socket.gaierror(socket.EAI_NONAME, "not known")),
    Resolver("not an address"),
], ids=["no answer", "unknown name", "garbage"])
async def test_a_host_that_cannot_be_found_says_so(resolver: Resolver) -> None:
    network = CheckedNetwork(FetchPolicy(resolver=resolver, allow_private=True))
    with pytest.raises(FetchError) as info:
        await network.checked_addresses("news.example.org", 443)
    assert (info.value.code, info.value.message) == (
        "url_fetch_failed", "Could not find news.example.org: check the link.")


async def test_one_private_answer_refuses_the_host() -> None:
    network = CheckedNetwork(FetchPolicy(resolver=Resolver("93.184.216.34", "10.0.0.1"),
                                         allow_private=False))
    with pytest.raises(FetchError) as info:
        await network.checked_addresses("news.example.org", 443)
    assert info.value.code == "url_not_allowed"
    assert info.value.message == (
        "quotebot does not fetch from news.example.org: it is a private, local or reserved "
        "address. Only links to public web addresses can be added, unless whoever runs "
        f"quotebot allows private ones with {ALLOW_PRIVATE_ENV}=1.")


async def test_a_unix_socket_is_never_dialled() -> None:
    with pytest.raises(FetchError) as info:
        await CheckedNetwork(FetchPolicy()).connect_unix_socket("/run/docker.sock")
    assert (info.value.code, info.value.message) == (
        "url_not_allowed", "quotebot fetches only http and https links.")


@pytest.mark.parametrize(("url", "port"), [("http://news.example.org/a", 80),
                                           ("https://news.example.org/a", 443),
                                           ("https://news.example.org:8443/a", 8443)])
def test_a_link_is_checked_at_once_on_the_port_it_will_use(url: str, port: int) -> None:
    resolver = Resolver("10.0.0.1")
    with pytest.raises(FetchError) as info:
        check_link(url, policy=FetchPolicy(resolver=resolver, allow_private=False))
    assert info.value.code == "url_not_allowed"
    assert resolver.asked == [("news.example.org", port)]


def test_a_lookup_that_takes_too_long_is_given_up() -> None:
    async def never(host: str, port: int) -> Sequence[str]:
        import asyncio

        await asyncio.sleep(10)
        return []

    with pytest.raises(FetchError) as info:
        check_link("http://news.example.org/", policy=FetchPolicy(resolver=never, timeout=0.05))
    assert (info.value.code, info.value.message) == (
        "url_timeout", "Could not find news.example.org within 0.05 seconds: check the link.")


async def test_a_link_is_checked_from_inside_an_event_loop_too() -> None:
    resolver = Resolver("93.184.216.34")
    check_link("http://news.example.org/", policy=FetchPolicy(resolver=resolver))
    assert resolver.asked == [("news.example.org", 80)]


# -- the body ---------------------------------------------------------------------------------

PAGE = b"<html><body><p>The sea wall was finished in May.</p></body></html>" * 50
#: A page that comes in many reads.
BIG = b"<p>" + b"The sea wall was finished in May. " * 6000 + b"</p>"


def inflate(decoder: _Decoder, body: bytes, room: int = 10**9, chunk: int = 7) -> bytes:
    return b"".join(decoder.decode(body[i:i + chunk], room)
                    for i in range(0, len(body), chunk))


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", " GZIP "])
def test_a_gzipped_body_is_inflated_chunk_by_chunk(encoding: str) -> None:
    assert inflate(_Decoder(encoding, "h"), gzip.compress(PAGE)) == PAGE


def test_a_deflated_body_is_inflated_with_or_without_its_zlib_wrapper() -> None:
    wrapped = zlib.compress(PAGE)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    bare = raw.compress(PAGE) + raw.flush()
    assert inflate(_Decoder("deflate", "h"), wrapped) == PAGE
    assert inflate(_Decoder("deflate", "h"), bare) == PAGE
    assert inflate(_Decoder("Deflate", "h"), b"" + wrapped) == PAGE


@pytest.mark.parametrize("encoding", ["", "identity", " Identity "])
def test_a_body_sent_as_it_is_is_kept_as_it_is(encoding: str) -> None:
    assert _Decoder(encoding, "h").decode(PAGE, 3) == PAGE


def test_inflating_stops_at_the_room_left_under_the_cap() -> None:
    decoder = _Decoder("gzip", "h")
    assert len(decoder.decode(gzip.compress(PAGE), 100)) == 100


def test_a_body_compressed_in_a_way_quotebot_cannot_read_is_refused() -> None:
    with pytest.raises(FetchError) as info:
        _Decoder("br", "news.example.org")
    assert (info.value.code, info.value.message) == (
        "url_fetch_failed",
        "news.example.org sent the page compressed as 'br', which quotebot cannot read.")
    with pytest.raises(FetchError, match=r"as 'xxxxxxxxxxxxxxxxxxxx', which"):
        _Decoder("x" * 50, "h")


@pytest.mark.parametrize(("body", "kind"), [
    (b"%PDF-1.7\n", "pdf"), (b"  \n%pdf-1.4", "pdf"),
    (b"<!DOCTYPE html><title>x</title>", "html"), (b"<HTML lang=en>", "html"),
    (b"<?xml version='1.0'?><body>x</body>", "html"),
    (b"Just words.", None), (b"", None), (b"x" * 1024 + b"<body>", None),
])
def test_a_body_without_a_type_is_told_by_its_first_bytes(body: bytes, kind: str | None) -> None:
    assert _sniff(body) == kind


def test_a_failed_connection_is_said_in_a_few_words_without_the_link() -> None:
    request = httpx.Request("GET", "https://news.example.org/private/path")
    assert _reason(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]", request=request)) == (
        "its TLS certificate could not be verified")
    assert _reason(httpx.ConnectError("ssl handshake failed", request=request)) == (
        "its TLS certificate could not be verified")
    assert _reason(httpx.ConnectError("TLS alert", request=request)) == (
        "its TLS certificate could not be verified")
    assert _reason(httpx.ConnectError("[Errno 111] Connection refused", request=request)) == (
        "the connection was refused or the host cannot be reached")
    assert _reason(httpx.RemoteProtocolError("peer closed", request=request)) == (
        "the server broke off the answer")
    assert _reason(httpx.DecodingError("bad", request=request)) == (
        "the page could not be decompressed")
    assert _reason(httpx.ReadError("reset", request=request)) == "the connection failed"


# -- answers written by hand ------------------------------------------------------------------


def answer(status: str, headers: dict[str, str], body: bytes, *, length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode() + body


ANSWERS = {
    "/untyped-page": answer("200 OK", {}, PAGE),
    "/untyped-pdf": answer("200 OK", {}, b"%PDF-1.4\n%%EOF\n"),
    "/untyped-words": answer("200 OK", {}, b"Just words."),
    "/typed": answer("200 OK", {"Content-Type": "Text/HTML ; charset=latin-1"}, PAGE),
    "/brotli": answer("200 OK", {"Content-Type": "text/html", "Content-Encoding": "br"}, PAGE),
    "/broken-gzip": answer("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "gzip"}, b"\x1f\x8b\x08junk" * 9),
    "/raw-deflate": answer("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "deflate"},
                           zlib.compress(PAGE)[2:-4]),
    "/exact": answer("200 OK", {"Content-Type": "text/html"}, PAGE, length=False),
    "/exact-declared": answer("200 OK", {"Content-Type": "text/html"}, PAGE),
    "/declared-large": answer("200 OK", {"Content-Type": "text/html",
                                         "Content-Length": str(10**9)}, b"", length=False),
    "/big": answer("200 OK", {"Content-Type": "text/html"}, BIG),
    "/bad-request": answer("400 Bad Request", {"Content-Type": "text/html"}, b"bad"),
    "/loop": answer("302 Found", {"Location": "/loop"}, b""),
    "/video": answer("200 OK", {"Content-Type": "video/mp4"}, b"\x00\x00\x00\x18ftypmp42"),
    "/gone": answer("410 Gone", {"Content-Type": "text/html"}, b"gone"),
    "/teapot": answer("503 " + "Busy " * 20, {"Content-Type": "text/html"}, b"busy"),
    "/no-phrase": answer("500 ", {"Content-Type": "text/html"}, b"x"),
    "/cut-off": answer("200 OK", {"Content-Type": "text/html", "Content-Length": "5000"},
                       PAGE[:100], length=False),
}


#: The port of the server of ANSWERS, and the requests it was sent (method, path, headers).
Canned = tuple[int, list[tuple[str, str, dict[str, str]]]]


class _Canned(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        self.server.requests.append((method, path, dict(  # type: ignore[attr-defined]
            line.split(": ", 1) for line in head[1:])))
        if path == "/stall":
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
            time.sleep(1.0)
            return
        self.request.sendall(ANSWERS[path])


@pytest.fixture(scope="module")
def canned() -> Iterator[Canned]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Canned)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def get(port: int, path: str) -> bytes | FetchError:
    try:
        page = fetch_url(f"http://127.0.0.1:{port}{path}",
                         policy=FetchPolicy(allow_private=True, timeout=10))
    except FetchError as error:
        return error
    return page.body


def test_the_request_says_who_asks_and_what_it_can_read(canned: Canned) -> None:
    port, requests = canned
    assert get(port, "/untyped-page") == PAGE
    method, path, headers = requests[-1]
    assert (method, path) == ("GET", "/untyped-page")
    assert headers["User-Agent"].startswith("quotebot/")
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert headers["Accept"].startswith("text/html,")


def test_a_body_without_a_type_is_read_by_what_it_starts_with(canned: Canned) -> None:
    port, _ = canned
    pdf = fetch_url(f"http://127.0.0.1:{port}/untyped-pdf",
                    policy=FetchPolicy(allow_private=True))
    assert (pdf.kind, pdf.media_type) == ("pdf", "")
    error = get(port, "/untyped-words")
    assert isinstance(error, FetchError) and (error.code, error.message) == (
        "url_unsupported_type", "127.0.0.1 did not say what kind of file it sent, and it is "
        "not a web page or a PDF.")
    typed = fetch_url(f"http://127.0.0.1:{port}/typed", policy=FetchPolicy(allow_private=True))
    assert (typed.kind, typed.media_type, typed.charset) == ("html", "text/html", "latin-1")


@pytest.mark.parametrize(("path", "code", "message"), [
    ("/brotli", "url_fetch_failed",
     "127.0.0.1 sent the page compressed as 'br', which quotebot cannot read."),
    ("/broken-gzip", "url_fetch_failed", "The page from 127.0.0.1 could not be decompressed."),
    ("/video", "url_unsupported_type",
     "127.0.0.1 sent a video/mp4 file; quotebot reads web pages (HTML), PDF, plain text and "
     "markdown."),
    ("/bad-request", "url_fetch_failed",
     "127.0.0.1 answered 400 Bad Request: the page could not be fetched."),
    ("/gone", "url_fetch_failed", "127.0.0.1 answered 410 Gone: the page could not be fetched."),
    ("/teapot", "url_fetch_failed",
     "127.0.0.1 answered 503 " + ("Busy " * 20)[:59] + ": the page could not be fetched."),
    ("/no-phrase", "url_fetch_failed",
     "127.0.0.1 answered 500: the page could not be fetched."),
    ("/cut-off", "url_fetch_failed",
     "Could not fetch the page from 127.0.0.1: the server broke off the answer."),
])
def test_a_page_that_cannot_be_read_says_why(canned: Canned, path: str, code: str,
                                             message: str) -> None:
    port, _ = canned
    error = get(port, path)
    assert isinstance(error, FetchError)
    assert (error.code, error.message) == (code, message)


def test_a_raw_deflate_body_is_read(canned: Canned) -> None:
    port, _ = canned
    assert get(port, "/raw-deflate") == PAGE


def test_a_page_that_does_not_come_in_time_names_the_host_and_the_limit(
        canned: Canned) -> None:
    port, _ = canned
    with pytest.raises(FetchError) as info:
        fetch_url(f"http://127.0.0.1:{port}/stall",
                  policy=FetchPolicy(allow_private=True, timeout=0.2))
    assert (info.value.code, info.value.message) == (
        "url_timeout", "127.0.0.1 did not send the page within 0.2 seconds. Try again later, "
        "or save the page and add the file.")


async def test_the_blocking_fetch_keeps_its_policy_inside_an_event_loop(
        canned: Canned, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    port, _ = canned
    page = fetch_url(f"http://127.0.0.1:{port}/untyped-page",
                     policy=FetchPolicy(allow_private=True))
    assert page.body == PAGE


def test_a_page_of_exactly_the_size_cap_is_read_and_one_byte_more_is_not(
        canned: Canned) -> None:
    port, _ = canned
    for path in ("/exact", "/exact-declared"):
        page = fetch_url(f"http://127.0.0.1:{port}{path}",
                         policy=FetchPolicy(allow_private=True, max_bytes=len(PAGE)))
        assert page.body == PAGE
        with pytest.raises(FetchError) as info:
            fetch_url(f"http://127.0.0.1:{port}{path}",
                      policy=FetchPolicy(allow_private=True, max_bytes=len(PAGE) - 1))
        assert info.value.code == "url_too_large"
    with pytest.raises(FetchError) as info:
        fetch_url(f"http://127.0.0.1:{port}/declared-large",
                  policy=FetchPolicy(allow_private=True, max_bytes=2 * 1024 * 1024))
    assert info.value.message == (
        "The page from 127.0.0.1 is larger than 2 MB; quotebot reads smaller articles.")


def test_a_page_in_many_reads_is_put_back_together(canned: Canned) -> None:
    port, _ = canned
    assert get(port, "/big") == BIG


def test_redirects_past_the_limit_say_how_many(canned: Canned) -> None:
    port, _ = canned
    with pytest.raises(FetchError) as info:
        fetch_url(f"http://127.0.0.1:{port}/loop",
                  policy=FetchPolicy(allow_private=True, max_redirects=2))
    assert (info.value.code, info.value.message) == (
        "url_fetch_failed",
        "127.0.0.1 redirected more than 2 times; give the link the redirects end at.")


def test_a_named_host_is_looked_up_on_the_links_port(canned: Canned) -> None:
    port, _ = canned
    resolver = Resolver("127.0.0.1")
    page = fetch_url(f"http://canned.test:{port}/untyped-page",
                     policy=FetchPolicy(allow_private=True, resolver=resolver))
    assert page.body == PAGE and resolver.asked == [("canned.test", port)]


def test_a_link_as_long_as_allowed_is_taken() -> None:
    url = "http://example.org/" + "a" * (MAX_URL_CHARS - len("http://example.org/"))
    assert len(url) == MAX_URL_CHARS and str(check_url(url)) == url
