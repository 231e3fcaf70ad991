"""Logging: structlog for our events, stdlib loggers (httpx, sqlalchemy, apscheduler)
routed through the same renderer, and a redaction step that every line passes.

Console rendering on a TTY, JSON lines otherwise (journald, files, log shippers).
Secrets never reach a log line: known key values are registered at config load and
replaced wherever they appear, and credential-shaped text (Bearer tokens, signed URL
tokens, key headers) is masked by pattern.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

LogFormat = Literal["auto", "console", "json"]
REDACTED = "[REDACTED]"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[^\s'\",}]+"), r"\1" + REDACTED),
    (
        re.compile(r"(?i)((?:x-api-key|authorization|api[_-]?key)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]+"),
        r"\1" + REDACTED,
    ),
    (
        re.compile(r"(?i)([?&](?:token|signature|sig|key|x-amz-signature)=)[^&\s'\"]+"),
        r"\1" + REDACTED,
    ),
]


def register_secret(value: str) -> None:
    """Remember a secret so that any log line or error text containing it is masked."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Mask every registered secret and credential-shaped fragment in `text`."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item) for item in value)
    if isinstance(value, BaseException):
        return redact(str(value))
    return value


def redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the last guard before rendering."""
    return {key: _redact_value(value) for key, value in event.items()}


class _RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """Also masks exception text and tracebacks, which bypass the processors."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the moment, so a live progress bar that
    redirects it can print log lines above itself instead of through it."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(fmt: LogFormat = "auto", debug: bool = False) -> None:
    """Set up structlog and the stdlib root logger once per process (idempotent)."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.dict_tracebacks)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = _RedactingFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_event,
            renderer,
        ],
    )
    handler = _CurrentStderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_archiver", False):
            root.removeHandler(existing)
    handler._archiver = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # httpx logs every request URL at INFO, signed tokens included; sqlalchemy and
    # apscheduler are chatty at INFO. Their warnings still come through.
    for noisy in ("httpx", "httpcore", "sqlalchemy", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if debug:
        logging.getLogger("alembic").setLevel(logging.INFO)


def get_logger(name: str = "archiver") -> Any:
    return structlog.stdlib.get_logger(name)
