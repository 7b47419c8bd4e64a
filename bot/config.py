"""Configuration of the network front ends, from flags bound to environment variables."""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
import threading
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from quotebot.errors import QuotebotError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
MB = 1024 * 1024
#: The shortest API key accepted (a short one could be guessed, and would not be masked).
MIN_API_KEY_CHARS = 16
#: Update types the bot asks Telegram for (others are never sent).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


@dataclass(frozen=True, slots=True)
class BotConfig:
    """Everything ``quotebot serve`` and ``quotebot telegram`` need to run."""

    corpus: str | None = None
    index_dir: str | None = None
    #: Xapian shard servers retrieval asks (xapian://HOST:PORT,…), or None: the index.
    search_url: str | None = None
    #: Rerank by meaning: "auto", "on" or "off" (see quotebot.semantic).
    semantic: str = "auto"
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    webhook_secret: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    webhook_url: str | None = None
    redis_url: str | None = None
    session_ttl: int = 24 * 3600
    #: Bytes the in-memory conversations may take in all (the least recently used go first).
    session_memory: int = 64 * 1024 * 1024
    #: Peers whose X-Forwarded-For is believed (see parse_forwarded_allow_ips).
    forwarded_allow_ips: tuple[IPNetwork, ...] = ()
    #: Questions per minute allowed to one Telegram chat (0: no limit).
    rate_limit_chat: float = 30.0
    #: Messages a second the bot sends at most, over all chats (Telegram's limit: 30;
    #: 0: no limit).
    telegram_send_rate: float = 30.0
    #: HTTP requests per minute allowed to one client address (0: no limit).
    rate_limit_ip: float = 600.0
    #: Largest request body accepted, in bytes.
    max_body: int = 64 * 1024
    #: Seconds a client may take to send its request body.
    body_timeout: float = 10.0
    #: Seconds to finish in-flight work after SIGTERM.
    shutdown_timeout: float = 10.0
    #: The key clients send as ``Authorization: Bearer …`` to use libraries over HTTP
    #: (None: the library endpoints are off).
    api_key: str | None = None
    #: Where libraries live (one folder each); None: no libraries at all.
    data_dir: str | None = None
    #: Whether the web page may add links, each page session to a small library of its own.
    web_uploads: bool = False
    #: Bytes of a page, file or upload to add, at most (and of its text).
    max_document_bytes: int = 10 * MB
    #: Documents and bytes of text an API client's library may hold (0: no limit).
    library_max_docs: int = 500
    library_max_bytes: int = 100 * MB
    #: Documents and bytes of text each Telegram chat's library may hold (documents 0: chats
    #: cannot add articles).
    chat_max_docs: int = 20
    chat_max_bytes: int = 5 * MB
    #: Documents and bytes of text each web page session's library may hold.
    web_max_docs: int = 3
    web_max_bytes: int = 1 * MB
    #: Web page sessions that may have a library at once (each goes with its session).
    web_max_libraries: int = 1000
    #: Bytes on disk all web page sessions' libraries may take together (0: no limit).
    web_max_total_bytes: int = 1024 * MB
    #: Where Telegram serves files (None: the Bot API URL with /file/bot for /bot).
    api_base_file_url: str | None = None
    #: Answering processes on the port (``--workers``).
    workers: int = 1
    #: This process's number among the workers (0 when there is one).
    worker: int = 0
    #: Processes answering questions for each worker, apart from its event loop (0: a
    #: thread of the worker answers).
    answer_processes: int = 1
    #: How much nicer (``nice``) than the worker its answering processes run.
    answer_nice: int = 10

    def __post_init__(self) -> None:
        if self.redis_url:
            check_redis_url(self.redis_url)

    @property
    def primary(self) -> bool:
        """Whether this process registers the webhook and the bot's commands with Telegram
        and computes missing vectors, for all workers (worker 0)."""
        return self.worker == 0

    @property
    def telegram_webhook_enabled(self) -> bool:
        return bool(self.token and self.webhook_secret)

    @property
    def libraries_enabled(self) -> bool:
        """Whether HTTP clients with the API key may use libraries."""
        return bool(self.api_key and self.data_dir)

    @property
    def chat_libraries_enabled(self) -> bool:
        return bool(self.data_dir and self.chat_max_docs > 0)

    @property
    def web_uploads_enabled(self) -> bool:
        return bool(self.web_uploads and self.data_dir and self.web_max_docs > 0)

    @property
    def file_base_url(self) -> str:
        """Where the Bot API serves files: TELEGRAM_API_BASE_FILE_URL, else the Bot API URL
        with its trailing /bot replaced by /file/bot."""
        if self.api_base_file_url:
            return self.api_base_file_url
        base = self.api_base_url
        return base[:-len("/bot")] + "/file/bot" if base.endswith("/bot") else base

    def text_limit(self, kind: str) -> int:
        """Bytes of text a document added to an API client's ("api"), a chat's ("chat") or
        a web page's ("web") library may have: its reading stops there, since the library
        could hold no more (a 300 KB PDF can hold 60 MB of text, a minute of reading)."""
        size = {"api": self.library_max_bytes, "chat": self.chat_max_bytes,
                "web": self.web_max_bytes}[kind]
        return min(self.max_document_bytes, size) if size else self.max_document_bytes

    def library_limits(self, kind: str) -> Any:
        """The limits of an API client's ("api"), a chat's ("chat") or a web page's ("web")
        library."""
        from quotebot.library import LibraryLimits

        docs, size = {"api": (self.library_max_docs, self.library_max_bytes),
                      "chat": (self.chat_max_docs, self.chat_max_bytes),
                      "web": (self.web_max_docs, self.web_max_bytes)}[kind]
        return LibraryLimits(max_documents=docs, max_document_bytes=self.max_document_bytes,
                             max_library_bytes=size)

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a log line
        return (f"BotConfig(host={self.host!r}, port={self.port}, corpus={self.corpus!r}, "
                f"index_dir={self.index_dir!r}, telegram={'on' if self.token else 'off'}, "
                f"redis={'on' if self.redis_url else 'off'}, "
                f"libraries={'on' if self.libraries_enabled else 'off'})")


class Redactor:
    """Finds secrets in text and masks them, in every form they take in a URL or a log.

    A bot token ``123456:ABC…`` is masked whole, URL-quoted, and in its two parts (the
    bot's numeric id only where it stands alone as a number), since a URL, an error or a
    response may carry either part without the other.
    """

    def __init__(self, *secrets: str | None) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        forms: set[str] = set()
        ids: set[str] = set()
        for secret in self.secrets:
            for text in (secret, secret.strip()):
                match = _TOKEN_PARTS.fullmatch(text)
                if match:
                    ids.add(match["id"])
                    forms.add(match["key"])
                forms.add(text)
        forms |= {quote(f, safe=safe) for f in list(forms) for safe in ("", "/:")}
        # A few characters are no secret, and masking them everywhere would garble logs.
        forms = {f for f in forms if len(f) >= MIN_SECRET}
        ids = {i for i in ids if len(i) >= MIN_SECRET}
        patterns = [re.escape(f) for f in sorted(forms, key=len, reverse=True)]
        patterns += [rf"(?<!\d){re.escape(i)}(?!\d)" for i in sorted(ids)]
        self._pattern = re.compile("|".join(patterns)) if patterns else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


MASK = "***"
MIN_SECRET = 5
_TOKEN_PARTS = re.compile(r"(?P<id>\d+):(?P<key>.+)", re.DOTALL)


class InvalidSetting(QuotebotError):
    """A flag or environment variable with a value quotebot cannot use."""

    code = "invalid_setting"


def parse_forwarded_allow_ips(text: str | None) -> tuple[IPNetwork, ...]:
    """The networks of ``--forwarded-allow-ips`` ("10.0.0.1,192.168.0.0/16", "*" for any).

    As in uvicorn and gunicorn: X-Forwarded-For is believed only from these peers.
    """
    if not text or not text.strip():
        return ()
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if item == "*":
            networks += [ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0")]
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            shown = item if len(item) <= 60 else item[:60] + "…"
            raise InvalidSetting(
                f"--forwarded-allow-ips (QUOTEBOT_FORWARDED_ALLOW_IPS) takes IP addresses or "
                f"networks separated by commas, such as 127.0.0.1,10.0.0.0/8 (or * for any); "
                f"{shown!r} is neither.") from None
    return tuple(networks)


def default_data_dir() -> str:
    """Where libraries live unless told: ``$XDG_DATA_HOME/quotebot/libraries``."""
    import os
    from pathlib import Path

    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(home) / "quotebot" / "libraries")


def check_api_key(key: str | None) -> str | None:
    """The key without surrounding blanks (None when unset); InvalidSetting when it is too
    short to be a secret. The message never repeats the key."""
    key = (key or "").strip()
    if not key:
        return None
    if len(key) < MIN_API_KEY_CHARS or any(ch.isspace() or not ch.isprintable() for ch in key):
        raise InvalidSetting(
            f"QUOTEBOT_API_KEY must be at least {MIN_API_KEY_CHARS} printable characters "
            "without spaces; make one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'.")
    return key


def check_redis_url(url: str) -> None:
    """Raise InvalidSetting unless ``url`` is a Redis URL redis-py can connect with."""
    shown = redact_url(url)
    example = "redis://localhost:6379/0 (rediss:// for TLS, unix:///path/to/redis.sock)"
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("redis", "rediss", "unix"):
        problem = "it does not start with redis://, rediss:// or unix://"
    elif parts.scheme == "unix":
        if not parts.path:
            problem = "it names no socket path"
    elif not parts.hostname:
        problem = "it names no host"
    else:
        try:
            _ = parts.port  # urllib checks the port only when asked for it
        except ValueError:
            problem = "its port is not a number from 0 to 65535"
        database = parts.path.lstrip("/")
        if problem is None and database and not database.isdigit():
            problem = "its path must be a database number, such as /0"
    if problem is None:
        from redis.asyncio import ConnectionPool

        try:
            ConnectionPool.from_url(url)
        except (ValueError, TypeError):
            problem = "redis-py cannot read it"
    if problem is not None:
        raise InvalidSetting(f"--redis-url (QUOTEBOT_REDIS_URL) {shown!r} cannot be used: "
                             f"{problem}. Write it as {example}.")


def redact_url(url: str) -> str:
    """``url`` without its user name and password, for logs and messages."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}" if sep else "***@" + url.rsplit("@", 1)[1]


def redact_record(record: logging.LogRecord, redact: Redactor) -> None:
    """Mask secrets in ``record``'s message, traceback and stack, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what can be shown of it
        message = f"{record.msg!s} {record.args!r}"
    clean = redact(message)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean_text = redact(text)
        if clean_text != text:
            # Formatters re-render exc_info by themselves (the JSON one does), so the
            # traceback goes into the message instead, where every formatter shows it.
            record.msg = f"{record.msg}\n{clean_text}"
            record.exc_info, record.exc_text = None, None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_redactor = Redactor()
_installed = False


def install_redaction(*secrets: str | None) -> Redactor:
    """Mask ``secrets`` in every log record from now on, whatever logger or handler
    writes it (handlers added later included), and return the redactor for other output.

    Records are masked as they are created, so no handler can see the secret.
    """
    global _redactor, _installed
    _redactor = Redactor(*_redactor.secrets, *secrets)
    if not _installed:
        make_record = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            redact_record(record, _redactor)
            return record

        logging.setLogRecordFactory(redacting_factory)
        # What bypasses logging goes through it, or is masked on its way to stderr.
        logging.captureWarnings(True)
        sys.excepthook = _redacting_excepthook
        threading.excepthook = _redacting_thread_excepthook
        _installed = True
    return _redactor


def _redacting_excepthook(kind: type[BaseException], value: BaseException,
                          tb: TracebackType | None) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _redacting_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in {name}:\n{text}"))


def redact(text: str) -> str:
    """``text`` with every secret given to :func:`install_redaction` masked."""
    return _redactor(text)
