"""Errors a user sees. Each renders as one line naming the source (or file) and the cause.

The CLI prints `str(error)` for any `ArchiverError` and exits non-zero; anything else
is a bug and shows a traceback only with `--debug`.
"""

from __future__ import annotations


class ArchiverError(Exception):
    """Base of every user-facing error; its message is one line and holds no secret."""

    exit_code = 1


class ConfigError(ArchiverError):
    """The config file (or an override variable) is unusable; nothing was touched."""

    exit_code = 2


class DatabaseError(ArchiverError):
    """The archive database cannot be reached, opened or migrated."""


class SourceError(ArchiverError):
    """Something went wrong with one source; the other sources carry on."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


class AuthenticationError(SourceError):
    """The provider rejected the key (401/403): the user must fix the key, so no retry."""


class RateLimitedError(SourceError):
    """The provider kept answering 429 after every retry."""


class ProviderError(SourceError):
    """The provider answered with an error status or error envelope."""

    def __init__(self, source: str, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(source, message)


class BadResponseError(SourceError):
    """The provider's answer was not the documented shape (bad JSON, broken body)."""


class PaginationError(SourceError):
    """The listing stopped making progress (repeated cursor, identical page, page cap)."""


class LeaseBusyError(SourceError):
    """Another process holds this source's lease."""
