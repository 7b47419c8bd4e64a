"""Configuration of the network front ends, from flags bound to environment variables."""

from __future__ import annotations

import logging
from dataclasses import dataclass

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
#: Update types the bot asks Telegram for (others are never sent).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


@dataclass(frozen=True, slots=True)
class BotConfig:
    """Everything ``quotebot serve`` and ``quotebot telegram`` need to run."""

    corpus: str | None = None
    index_dir: str | None = None
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
    #: Questions per minute allowed to one Telegram chat (0: no limit).
    rate_limit_chat: float = 30.0
    #: HTTP requests per minute allowed to one client address (0: no limit).
    rate_limit_ip: float = 600.0
    #: Largest request body accepted, in bytes.
    max_body: int = 64 * 1024
    #: Seconds a client may take to send its request body.
    body_timeout: float = 10.0
    #: Seconds to finish in-flight work after SIGTERM.
    shutdown_timeout: float = 10.0

    @property
    def telegram_webhook_enabled(self) -> bool:
        return bool(self.token and self.webhook_secret)

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a log line
        return (f"BotConfig(host={self.host!r}, port={self.port}, corpus={self.corpus!r}, "
                f"index_dir={self.index_dir!r}, telegram={'on' if self.token else 'off'}, "
                f"redis={'on' if self.redis_url else 'off'})")


class RedactFilter(logging.Filter):
    """Replaces secrets (the bot token, the webhook secret) in every log record."""

    def __init__(self, *secrets: str | None) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.exc_info = None
            record.exc_text = text
        return True


def install_redaction(*secrets: str | None) -> None:
    """Redact secrets from everything logged through the root logger's handlers."""
    redact = RedactFilter(*secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
