"""Logging set-up shared by every front end: text or one JSON object per line.

A request id set in :data:`request_id` (a context variable, so it follows each
request or update through ``await``) is added to every line logged while handling it.

Logged values come from outside (request paths, headers, questions), so one record is
always one line: control characters are escaped (``\\n``, ``\\x1b``), and the lines of a
traceback are indented, so nothing a client sends can start a line that looks like ours.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar

#: The id of the request or Telegram update being handled, if any.
request_id: ContextVar[str | None] = ContextVar("quotebot_request_id", default=None)

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message",
                                                                               "asctime"}


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: everything a
# terminal or a log reader may take as a line break or an escape sequence.
_CONTROL_CODES = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_CONTROL = re.compile("[" + "".join(f"\\u{c:04x}" for c in _CONTROL_CODES) + "]")
_ESCAPES = {c: {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}.get(c, f"\\x{c:02x}" if c < 0x100
                                                               else f"\\u{c:04x}")
            for c in _CONTROL_CODES}
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in _CONTROL_CODES if c >= 0x7F}


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape, so it stays on one line."""
    return text.translate(_ESCAPES) if _CONTROL.search(text) else text


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``record.request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is not None:
            data["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in data and key != "request_id":
                data[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        line = json.dumps(data, ensure_ascii=False)
        # json.dumps leaves DEL, C1 controls and U+2028/9 raw; readers that split lines on
        # them would see two records.
        return line.translate(_JSON_ESCAPES) if _CONTROL.search(line) else line


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id]: message`` on one line; tracebacks indented below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(logger)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.rid = escape_controls(f" [{rid}]") if rid else ""
        record.logger = escape_controls(record.name)
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        extra: list[str] = []
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        # Each line of a traceback is indented and escaped: an exception's message may
        # quote a client's input, newlines included.
        for text in extra:
            line += "".join("\n    " + escape_controls(part) for part in text.splitlines())
        return line


def configure_logging(level: str = "WARNING", fmt: str = "text") -> None:
    """Log to stderr at ``level`` in ``fmt`` ("text" or "json")."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs request URLs, and Telegram's URLs hold the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
