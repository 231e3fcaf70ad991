"""The archive schema. Users query these tables directly: every table and column of
INTERFACE.md is public API and changes only through an Alembic revision.

Columns beyond INTERFACE.md (attempt counters, leases, rejected items, history) are
additions the contract allows; they are documented in the README's schema section.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from archiver.db.types import JSONDocument, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

GENERATION_STATUSES = ("pending", "running", "succeeded", "failed", "canceled", "unknown")
ASSET_ROLES = ("image", "video", "reference")
ASSET_STATES = ("pending", "downloaded", "failed", "missing")
RUN_MODES = ("sync", "backfill")
RUN_STATUSES = ("running", "ok", "error", "interrupted")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONDocument, Any: JSONDocument}


class Source(Base):
    """One configured source. Rows are kept when a source leaves the config: its history stays."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime]


class Generation(Base):
    """One history item, with the provider's raw JSON exactly as last received."""

    __tablename__ = "generations"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index(None, "source_id", "created_at"),
        Index(None, "source_id", "status"),
        CheckConstraint(_one_of("status", GENERATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    provider_status: Mapped[str | None] = mapped_column(Text)
    prompt: Mapped[str | None] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    bucket: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    raw: Mapped[Any]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class GenerationRevision(Base):
    """An earlier raw payload of a generation that later changed in substance."""

    __tablename__ = "generation_revisions"
    __table_args__ = (Index(None, "generation_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    raw: Mapped[Any]
    seen_at: Mapped[datetime]


class Asset(Base):
    """One file a generation refers to, and where its bytes lie once downloaded."""

    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("generation_id", "role", "position"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "sha256"),
        CheckConstraint(_one_of("role", ASSET_ROLES), name="role"),
        CheckConstraint(_one_of("state", ASSET_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), server_default="pending")
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(Text)
    downloaded_at: Mapped[datetime | None]
    path: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    not_found_count: Mapped[int] = mapped_column(Integer, server_default="0")
    """404s in a row: a file is `missing` only when its URL keeps answering 404."""
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class SyncRun(Base):
    """One sync or backfill of one source, kept forever as the archive's audit trail."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index(None, "source_id", "started_at"),
        CheckConstraint(_one_of("mode", RUN_MODES), name="mode"),
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    records_seen: Mapped[int] = mapped_column(Integer, server_default="0")
    records_new: Mapped[int] = mapped_column(Integer, server_default="0")
    records_updated: Mapped[int] = mapped_column(Integer, server_default="0")
    records_rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    pages: Mapped[int] = mapped_column(Integer, server_default="0")
    owner: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class SyncState(Base):
    """Per source: the watermark, the resume cursor, the lease. Kept explicitly, never
    derived from the data tables."""

    __tablename__ = "sync_state"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    last_success_at: Mapped[datetime | None]
    watermark: Mapped[datetime | None]
    last_complete_at: Mapped[datetime | None]
    state: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class CoverageGap(Base):
    """A time range the archive may be missing because the provider stopped serving it first."""

    __tablename__ = "coverage_gaps"
    __table_args__ = (Index(None, "source_id", "gap_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    gap_start: Mapped[datetime]
    gap_end: Mapped[datetime]
    detected_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None]


class RejectedItem(Base):
    """A raw item that did not fit its provider's documented shape: kept, with the reason."""

    __tablename__ = "rejected_items"
    __table_args__ = (Index(None, "source_id", "seen_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[Any]
    seen_at: Mapped[datetime]
