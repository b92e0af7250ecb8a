"""Domain errors carry the S3 error code users see; the api layer renders them."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, message: str | None = None, **extra: str) -> None:
        super().__init__(code if message is None else f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = extra
