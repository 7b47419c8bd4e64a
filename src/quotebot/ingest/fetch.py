"""Fetching a link a user asked to add: a public web page, PDF or text file, and nothing else.

Every connection goes through :class:`CheckedNetwork`: the host name is resolved once, every
address it resolves to is checked (no private, loopback, link-local, multicast, reserved,
unspecified, shared or cloud-metadata address), and the connection is made to the checked
address itself, so a second DNS answer cannot send it elsewhere (DNS rebinding). The request
keeps the original ``Host`` header, and TLS the original name for SNI and certificate checks.
Redirects are followed by hand, at most ``max_redirects``, each one checked the same way.

``QUOTEBOT_ALLOW_PRIVATE_URLS=1`` allows private and local addresses (an intranet, tests).
Failures are :class:`FetchError` with a stable code; messages name the host, never a path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

import certifi
import httpcore
import httpx

from quotebot.errors import QuotebotError

#: Set to 1 to allow links to private and local addresses.
ALLOW_PRIVATE_ENV = "QUOTEBOT_ALLOW_PRIVATE_URLS"
TIMEOUT_SECONDS = 15.0
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_URL_CHARS = 4096

#: The media types quotebot reads, and what each is.
MEDIA_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "application/pdf": "pdf",
}

_HEADERS = {
    "User-Agent": "quotebot/0.1 (reads an article a user asked to add)",
    "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,"
              "text/markdown;q=0.8",
    # Only what _Decoder can inflate within the size cap.
    "Accept-Encoding": "gzip, deflate",
}

#: Addresses of cloud platforms' own services that are not in a private range.
_PLATFORM_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata (link-local too)
    "fd00:ec2::254",  # AWS metadata over IPv6 (unique local too)
    "100.100.100.200",  # Alibaba Cloud metadata (shared address space too)
    "168.63.129.16",  # Azure platform services: a public-range address
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

#: A DNS name (IDNA-encoded): labels of letters, digits, hyphens (and underscores, which some
#: hosts use), at most 253 characters.
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves a host name to addresses (as text): ``await resolver(host, port)``.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class FetchError(QuotebotError):
    """A link that was refused or could not be fetched.

    Codes: ``url_invalid``, ``url_not_allowed``, ``url_fetch_failed``, ``url_timeout``,
    ``url_too_large``, ``url_unsupported_type``.
    """

    code = "url_fetch_failed"
    http_status = 502

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.http_status = _HTTP_STATUS.get(code, 502)


#: The HTTP status each FetchError code suggests when it reaches the HTTP API.
_HTTP_STATUS = {"url_invalid": 400, "url_not_allowed": 400, "url_fetch_failed": 502,
                "url_timeout": 504, "url_too_large": 413, "url_unsupported_type": 415}


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """What a link gave: its body (decompressed) and what kind of document it is."""

    #: The address the body came from, after redirects.
    url: str
    #: "html", "text", "markdown" or "pdf".
    kind: str
    #: The media type the server sent ("text/html"), or "" when it sent none.
    media_type: str
    #: The character set the server named, if any.
    charset: str | None
    body: bytes


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits of one fetch. ``allow_private`` None reads ``QUOTEBOT_ALLOW_PRIVATE_URLS``."""

    timeout: float = TIMEOUT_SECONDS
    max_bytes: int = MAX_BYTES
    max_redirects: int = MAX_REDIRECTS
    allow_private: bool | None = None
    resolver: Resolver = field(default=system_resolver)

    def private_allowed(self) -> bool:
        if self.allow_private is not None:
            return self.allow_private
        return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def is_public_address(address: IPAddress) -> bool:
    """True for an address on the public internet; False for private, loopback, link-local,
    multicast, reserved, unspecified and shared ones, and cloud platforms' metadata services."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one is as public as the IPv4 one.
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
        if address.teredo is not None and not all(is_public_address(a) for a in address.teredo):
            return False
    return not (
        address in _PLATFORM_ADDRESSES
        or not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str | httpx.URL) -> httpx.URL:
    """The URL parsed, when it may be fetched at all: http or https, a host, no credentials.

    Addresses are checked later, when the host is resolved for the connection.
    """
    if isinstance(url, str):
        text = url.strip()
        if not text or len(text) > MAX_URL_CHARS:
            raise FetchError("That is not a link quotebot can read: give an http:// or "
                             "https:// address.", code="url_invalid")
        try:
            url = httpx.URL(text)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError("That is not a link quotebot can read: give an http:// or "
                             "https:// address.", code="url_invalid") from exc
    if url.scheme not in ("http", "https"):
        raise FetchError(f"quotebot fetches only http and https links, not {url.scheme or 'this'}"
                         " ones.", code="url_not_allowed")
    if not url.host:
        raise FetchError("That link has no host name: give an http:// or https:// address.",
                         code="url_invalid")
    if not _HOST_NAME.fullmatch(url.raw_host.decode("ascii", "replace")):
        try:
            ipaddress.ip_address(url.raw_host.decode("ascii", "replace"))
        except ValueError:
            raise FetchError("That link's host name is not one quotebot can look up.",
                             code="url_invalid") from None
    if url.userinfo:
        raise FetchError(f"quotebot does not fetch links with a user name or password in them "
                         f"(the link to {url.host}).", code="url_not_allowed")
    return url


def _not_allowed(host: str) -> FetchError:
    return FetchError(f"quotebot does not fetch from {host}: it is a private, local or reserved "
                      "address. Only links to public web addresses can be added, unless whoever "
                      f"runs quotebot allows private ones with {ALLOW_PRIVATE_ENV}=1.",
                      code="url_not_allowed")


class CheckedNetwork(httpcore.AsyncNetworkBackend):
    """A network backend that resolves each host once, checks every address, and connects to a
    checked address through ``dial`` (the real network unless told otherwise)."""

    def __init__(self, policy: FetchPolicy, dial: httpcore.AsyncNetworkBackend | None = None
                 ) -> None:
        self._policy = policy
        self._dial = dial or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` may be reached at; FetchError when any is refused."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                answers = await self._policy.resolver(host, port)
                found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
            except (OSError, ValueError) as exc:
                raise FetchError(f"Could not find {host}: check the link.",
                                 code="url_fetch_failed") from exc
            if not found:
                raise FetchError(f"Could not find {host}: check the link.",
                                 code="url_fetch_failed")
        # One refused answer refuses the host: a name that mixes public and private answers
        # is not one to trust with either.
        if not self._policy.private_allowed() and not all(map(is_public_address, found)):
            raise _not_allowed(host)
        return [str(a) for a in found]

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in await self.checked_addresses(host, port):
            try:
                return await self._dial.connect_tcp(address, port, timeout=timeout,
                                                    local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise FetchError("quotebot fetches only http and https links.", code="url_not_allowed")

    async def sleep(self, seconds: float) -> None:
        await self._dial.sleep(seconds)


@cache
def _ssl_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, network: CheckedNetwork) -> None:
        # SSL_CERT_FILE names a bundle with an intranet's own authority, as in most clients.
        context = _ssl_context(os.environ.get("SSL_CERT_FILE") or certifi.where())
        super().__init__(verify=context, trust_env=False)
        # httpx takes no network backend of its own, so its pool is built again with one;
        # TLS still gets the URL's host name (SNI, certificate), the socket the checked address.
        self._pool = httpcore.AsyncConnectionPool(ssl_context=context, network_backend=network,
                                                  max_connections=4)


class _Decoder:
    """Inflates a gzip or deflate body chunk by chunk, never past the size cap."""

    def __init__(self, encoding: str, host: str) -> None:
        encoding = encoding.strip().lower()
        self._zlib: zlib._Decompress | None = None
        self._deflate = encoding == "deflate"
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._deflate:
            self._zlib = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise FetchError(f"{host} sent the page compressed as {encoding[:20]!r}, which "
                             "quotebot cannot read.", code="url_fetch_failed")
        self._started = False

    def decode(self, chunk: bytes, room: int) -> bytes:
        """At most ``room`` bytes of output (so one more than the cap shows it was exceeded)."""
        if self._zlib is None:
            return chunk
        if self._deflate and not self._started and chunk:
            # "deflate" is meant to be zlib-wrapped, but some servers send it raw.
            self._started = True
            if chunk[0] & 0x0F != 8:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._zlib.decompress(chunk, room)


async def fetch_url_async(url: str, *, policy: FetchPolicy | None = None,
                          dial: httpcore.AsyncNetworkBackend | None = None) -> FetchedPage:
    """Fetch a page, PDF or text file from a public address (see the module's rules).

    ``dial`` is the network a checked address is connected on (the real one by default).
    """
    policy = policy or FetchPolicy()
    target = check_url(url)
    host = target.host
    try:
        async with asyncio.timeout(policy.timeout):
            return await _fetch(target, policy, CheckedNetwork(policy, dial))
    except TimeoutError as exc:
        raise FetchError(f"{host} did not send the page within {policy.timeout:g} seconds. Try "
                         "again later, or save the page and add the file.",
                         code="url_timeout") from exc


def fetch_url(url: str, *, policy: FetchPolicy | None = None,
              dial: httpcore.AsyncNetworkBackend | None = None) -> FetchedPage:
    """:func:`fetch_url_async` for code that does not run an event loop (the CLI)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fetch_url_async(url, policy=policy, dial=dial))
    # Called from inside an event loop: run on a loop of its own rather than fail.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, fetch_url_async(url, policy=policy, dial=dial)).result()


def check_link(url: str, *, policy: FetchPolicy | None = None) -> None:
    """Refuse ``url`` at once, before anything else is done for it, when it cannot be
    fetched: not http(s), no host, credentials, a host that cannot be found, or a private
    address that is not allowed (the fetch checks every address again when it connects)."""
    policy = policy or FetchPolicy()
    target = check_url(url)
    port = target.port or (443 if target.scheme == "https" else 80)

    async def resolve() -> None:
        try:
            async with asyncio.timeout(policy.timeout):
                await CheckedNetwork(policy).checked_addresses(target.host, port)
        except TimeoutError as exc:
            raise FetchError(f"Could not find {target.host} within {policy.timeout:g} "
                             "seconds: check the link.", code="url_timeout") from exc

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(resolve())
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, resolve()).result()


async def _fetch(url: httpx.URL, policy: FetchPolicy, network: CheckedNetwork) -> FetchedPage:
    timeout = httpx.Timeout(policy.timeout)
    async with httpx.AsyncClient(transport=_CheckedTransport(network), timeout=timeout,
                                 headers=_HEADERS, follow_redirects=False,
                                 trust_env=False) as client:
        redirects = 0
        while True:
            host = url.host
            try:
                async with client.stream("GET", url) as response:
                    if response.is_redirect:
                        if redirects >= policy.max_redirects:
                            raise FetchError(
                                f"{host} redirected more than {policy.max_redirects} times; "
                                "give the link the redirects end at.", code="url_fetch_failed")
                        redirects += 1
                        url = check_url(url.join(response.headers["Location"]))
                        continue
                    return await _read(response, url, policy)
            except httpx.TimeoutException as exc:
                raise FetchError(f"{host} did not answer within {policy.timeout:g} seconds. Try "
                                 "again later.", code="url_timeout") from exc
            except httpx.InvalidURL as exc:
                raise FetchError(f"{host} redirected to an address quotebot cannot read.",
                                 code="url_invalid") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"Could not fetch the page from {host}: {_reason(exc)}.",
                                 code="url_fetch_failed") from exc


async def _read(response: httpx.Response, url: httpx.URL, policy: FetchPolicy) -> FetchedPage:
    host = url.host
    if response.status_code >= 400 or response.status_code < 200:
        phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
        raise FetchError(f"{host} answered {response.status_code}{phrase[:60]}: the page could "
                         "not be fetched.", code="url_fetch_failed")
    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type not in MEDIA_TYPES:
        raise FetchError(f"{host} sent a {media_type[:60]} file; quotebot reads web pages "
                         "(HTML), PDF, plain text and markdown.", code="url_unsupported_type")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > policy.max_bytes:
        raise _too_large(host, policy)
    decoder = _Decoder(response.headers.get("Content-Encoding", ""), host)
    chunks: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            data = decoder.decode(raw, policy.max_bytes - size + 1)
            size += len(data)
            if size > policy.max_bytes:
                raise _too_large(host, policy)
            chunks.append(data)
    except zlib.error as exc:
        raise FetchError(f"The page from {host} could not be decompressed.",
                         code="url_fetch_failed") from exc
    body = b"".join(chunks)
    kind = MEDIA_TYPES.get(media_type) or _sniff(body)
    if kind is None:
        raise FetchError(f"{host} did not say what kind of file it sent, and it is not a web "
                         "page or a PDF.", code="url_unsupported_type")
    return FetchedPage(url=str(url), kind=kind, media_type=media_type,
                       charset=response.charset_encoding, body=body)


def _sniff(body: bytes) -> str | None:
    head = body[:1024].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return "pdf"
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "html"
    return None


def _too_large(host: str, policy: FetchPolicy) -> FetchError:
    return FetchError(f"The page from {host} is larger than {policy.max_bytes / 2**20:g} MB; "
                      "quotebot reads smaller articles.", code="url_too_large")


def _reason(exc: httpx.HTTPError) -> str:
    """A few words on a transport failure, without the URL that httpx may put in messages."""
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "certificate" in text or "ssl" in text or "tls" in text:
            return "its TLS certificate could not be verified"
        return "the connection was refused or the host cannot be reached"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke off the answer"
    if isinstance(exc, httpx.DecodingError):
        return "the page could not be decompressed"
    return "the connection failed"
