"""archiver.toml -> validated, resolved settings.

The whole file is checked before any work starts: every problem is reported as one
line naming the file, the key and what is wrong. API keys are read only for the
sources a command selects and are held as `SecretStr`, so they never show in a repr.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from archiver.errors import ConfigError
from archiver.log import register_secret
from archiver.providers import PROVIDERS, provider_class

DEFAULT_CONFIG = "archiver.toml"
DEFAULT_DATABASE_URL = "sqlite:///archive/archive.db"
DEFAULT_FILES_DIR = "archive/files"
DEFAULT_INTERVAL = timedelta(minutes=15)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_duration(value: Any) -> timedelta:
    """Read "15m", "1h30m", "90s", "1d" or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like '15m'")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("expected a duration like '15m'")
    match = _DURATION.match(value.strip())
    if not value.strip() or not match:
        raise ValueError(f"{value!r} is not a duration like '15m', '1h30m', '90s' or '1d'")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of `parse_duration`, for messages and status output."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ArchiveSettings(_Strict):
    database_url: str = DEFAULT_DATABASE_URL
    files_dir: str = DEFAULT_FILES_DIR
    max_file_size_mb: int = Field(default=512, ge=1)
    download_concurrency: int = Field(default=8, ge=1, le=64)
    download_per_source: int = Field(default=4, ge=1, le=64)


class SourceSettings(_Strict):
    """One `[[sources]]` table as written in the file (no key material)."""

    name: str
    provider: str
    api_key_env: str | None = None
    api_key_file: str | None = None
    base_url: str | None = None
    interval: timedelta = DEFAULT_INTERVAL
    overlap: timedelta | None = None
    download: bool = True
    buckets: list[str] | None = None
    api_version: str | None = None
    page_size: int | None = Field(default=None, ge=1)
    max_pages: int = Field(default=1_000_000, ge=1)

    @field_validator("interval", "overlap", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SOURCE_NAME.match(value):
            raise ValueError(f"{value!r} may hold only letters, digits, '-' and '_'")
        return value

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown provider {value!r} (one of {', '.join(PROVIDERS)})")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            raise ValueError(f"{value!r} is not a version date like '2026-05-15'")
        return value

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not b.strip() for b in value)):
            raise ValueError("must list at least one non-empty bucket name")
        return value

    @model_validator(mode="after")
    def _check(self) -> SourceSettings:
        if (self.api_key_env is None) == (self.api_key_file is None):
            raise ValueError("set exactly one of api_key_env or api_key_file")
        if self.interval <= timedelta(0):
            raise ValueError("interval: must be longer than 0s")
        provider = provider_class(self.provider)
        for option in ("buckets", "api_version"):
            if getattr(self, option) is not None and option not in provider.options:
                raise ValueError(f"{option}: not an option of provider {self.provider!r}")
        window = provider.window
        if window is not None and self.interval > window / 2:
            raise ValueError(
                f"interval: {format_duration(self.interval)} leaves no margin inside "
                f"{self.provider}'s {format_duration(window)} window; use at most "
                f"{format_duration(window / 2)} so a failed sync is retried before items expire"
            )
        return self


class SourceConfig(BaseModel):
    """A source ready to sync: settings resolved, key read. What providers receive."""

    model_config = ConfigDict(frozen=True)

    name: str
    provider: str
    api_key: SecretStr
    key_origin: str
    base_url: str
    interval: timedelta
    overlap: timedelta
    download: bool
    buckets: list[str]
    api_version: str
    page_size: int | None
    max_pages: int


class Config(BaseModel):
    """The validated config file with paths and URLs resolved."""

    model_config = ConfigDict(frozen=True)

    path: Path
    database_url: str
    files_dir: Path
    sources: tuple[SourceSettings, ...]
    max_file_size_mb: int = 512
    download_concurrency: int = 8
    download_per_source: int = 4
    default_database: bool = False
    """True when the database is the documented default beside the config file: only
    then may its folder be created; elsewhere a missing folder is more likely an
    unmounted disk than a wish for a new, empty archive."""

    def source_names(self) -> list[str]:
        return [source.name for source in self.sources]

    def select(self, names: Iterable[str] = ()) -> list[SourceSettings]:
        """The named sources in config order (all when none are named)."""
        wanted = list(names)
        known = set(self.source_names())
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise ConfigError(
                f"{self.path}: no source named {', '.join(map(repr, unknown))} "
                f"(configured: {', '.join(self.source_names()) or 'none'})"
            )
        return [s for s in self.sources if not wanted or s.name in wanted]

    def resolve(self, names: Iterable[str] = ()) -> list[SourceConfig]:
        """Select sources and read their keys; any missing key stops everything."""
        return [self._resolve_one(settings) for settings in self.select(names)]

    def _resolve_one(self, settings: SourceSettings) -> SourceConfig:
        key, origin = self._read_key(settings)
        register_secret(key)
        provider = provider_class(settings.provider)
        return SourceConfig(
            name=settings.name,
            provider=settings.provider,
            api_key=SecretStr(key),
            key_origin=origin,
            base_url=settings.base_url or provider.default_base_url,
            interval=settings.interval,
            overlap=settings.overlap if settings.overlap is not None else provider.default_overlap,
            download=settings.download,
            buckets=settings.buckets or ["default"],
            api_version=settings.api_version or "2026-05-15",
            page_size=settings.page_size,
            max_pages=settings.max_pages,
        )

    def _read_key(self, settings: SourceSettings) -> tuple[str, str]:
        if settings.api_key_env is not None:
            origin = f"${settings.api_key_env}"
            key = os.environ.get(settings.api_key_env, "").strip()
            if not key:
                raise ConfigError(
                    f"{settings.name}: the API key variable {origin} is not set "
                    f"(config {self.path}, key api_key_env)"
                )
            return key, origin
        assert settings.api_key_file is not None
        # `${CREDENTIALS_DIRECTORY}/name` reads a systemd LoadCredential= file.
        key_path = self._resolve_path(os.path.expandvars(settings.api_key_file))
        origin = f"file {key_path}"
        try:
            key = key_path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"{settings.name}: cannot read the API key file {key_path}: {error.strerror or error}"
            ) from None
        if not key:
            raise ConfigError(f"{settings.name}: the API key file {key_path} is empty")
        return key, origin

    def _resolve_path(self, value: str) -> Path:
        return _resolve_against(self.path.parent, value)


def _resolve_against(folder: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (folder / path).resolve()


def _resolve_database_url(folder: Path, url: str, origin: str) -> str:
    """Make a relative SQLite path absolute against the config's folder."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{origin}: {url!r} is not a database URL") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{origin}: unsupported database {parsed.get_backend_name()!r} (use sqlite or postgresql)"
        )
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parsed = parsed.set(database=str(_resolve_against(folder, database)))
    return parsed.render_as_string(hide_password=False)


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """--config, else $ARCHIVER_CONFIG, else ./archiver.toml."""
    chosen = explicit or os.environ.get("ARCHIVER_CONFIG") or DEFAULT_CONFIG
    return Path(chosen).expanduser().absolute()


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read and validate the whole config file; raise ConfigError with one line if not fit."""
    environ = os.environ if environ is None else environ
    file = config_path(path)
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no config file (pass --config PATH, set $ARCHIVER_CONFIG, "
            f"or create ./{DEFAULT_CONFIG}; see README)"
        ) from None
    except OSError as error:
        raise ConfigError(f"{file}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None
    return parse_config(document, file, environ)


def parse_config(document: dict[str, Any], file: Path, environ: Mapping[str, str]) -> Config:
    unknown = sorted(set(document) - {"archive", "sources"})
    if unknown:
        raise ConfigError(f"{file}: unknown table or key {unknown[0]!r} (expected [archive], [[sources]])")
    archive = _validate(ArchiveSettings, document.get("archive", {}), file, "archive")
    raw_sources = document.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{file}: sources: must be an array of tables ([[sources]])")
    sources = tuple(
        _validate(SourceSettings, raw, file, f"sources[{index}]") for index, raw in enumerate(raw_sources)
    )
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.name in seen:
            raise ConfigError(f"{file}: sources[{index}].name: duplicate source name {source.name!r}")
        seen.add(source.name)

    folder = file.parent
    database_url = environ.get("ARCHIVER_DATABASE_URL") or archive.database_url
    url_origin = (
        "$ARCHIVER_DATABASE_URL" if environ.get("ARCHIVER_DATABASE_URL") else f"{file}: archive.database_url"
    )
    files_dir = environ.get("ARCHIVER_FILES_DIR") or archive.files_dir
    resolved_url = _resolve_database_url(folder, database_url, url_origin)
    return Config(
        path=file,
        database_url=resolved_url,
        files_dir=_resolve_against(folder, files_dir),
        sources=sources,
        max_file_size_mb=archive.max_file_size_mb,
        download_concurrency=archive.download_concurrency,
        download_per_source=archive.download_per_source,
        default_database=resolved_url == _resolve_database_url(folder, DEFAULT_DATABASE_URL, ""),
    )


def _validate(model: type[_Strict], raw: Any, file: Path, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: {where}: must be a table")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        key = f"{where}.{location}" if location else where
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        elif first["type"] == "missing":
            message = "required key is missing"
        raise ConfigError(f"{file}: {key}: {message}") from None
