"""Typed errors. Every front end turns them into one shape: {"error": {"code", "message"}}."""

from __future__ import annotations


class QuotebotError(Exception):
    """Base error: a stable machine-readable ``code`` and a sentence for people."""

    code = "error"
    #: Suggested HTTP status when the error reaches the HTTP API.
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidQuestion(QuotebotError):
    """The question is empty, has no words, or is too long."""

    code = "invalid_question"
    http_status = 422


class CorpusError(QuotebotError):
    """The corpus path is missing, unreadable, empty, binary or not UTF-8."""

    code = "corpus_error"
    http_status = 500


class UnknownDocument(QuotebotError):
    """A document id that the corpus does not have."""

    code = "unknown_document"
    http_status = 404


class IndexFileError(QuotebotError):
    """A saved index that cannot be read: missing, truncated, corrupted or of another version."""

    code = "index_error"
    http_status = 500
