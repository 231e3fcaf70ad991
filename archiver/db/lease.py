"""One writer per source, on every backend: a lease row taken with one atomic UPDATE.

A daemon, a manual backfill and a second daemon replica never sync the same source at
once. The lease expires unless renewed (each page renews it inside the page's own
transaction), so a killed process blocks its source for at most one lease time.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from archiver.db.models import SyncRun, SyncState
from archiver.errors import LeaseBusyError, SourceError

DEFAULT_LEASE_TIME = timedelta(minutes=2)


def new_owner() -> str:
    """Who holds a lease: readable for people, unique per process run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def ensure_state_row(connection: Connection, source_id: int) -> None:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        insert(SyncState)
        .values(source_id=source_id, state={})
        .on_conflict_do_nothing(index_elements=["source_id"])
    )


class LeaseLost(SourceError):
    """Another process took the lease (ours expired): stop writing at once."""


class Lease:
    def __init__(
        self, engine: Engine, source_id: int, source: str, owner: str, ttl: timedelta = DEFAULT_LEASE_TIME
    ) -> None:
        self.engine = engine
        self.source_id = source_id
        self.source = source
        self.owner = owner
        self.ttl = ttl

    def try_acquire(self) -> str | None:
        """Take the lease if free or expired; None on success, else the current holder."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            ensure_state_row(connection, self.source_id)
            taken = connection.execute(
                update(SyncState)
                .where(
                    SyncState.source_id == self.source_id,
                    or_(
                        SyncState.lease_owner.is_(None),
                        SyncState.lease_owner == self.owner,
                        SyncState.lease_expires_at < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_expires_at=now + self.ttl)
            ).rowcount
            if taken:
                # Runs left `running` by a process that died without releasing its lease.
                connection.execute(
                    update(SyncRun)
                    .where(and_(SyncRun.source_id == self.source_id, SyncRun.status == "running"))
                    .values(status="interrupted", finished_at=now, error="the process running it stopped")
                )
                return None
            holder = connection.execute(
                SyncState.__table__.select().where(SyncState.source_id == self.source_id)
            ).one()
        return str(holder.lease_owner)

    def acquire(
        self,
        wait: bool,
        stop: threading.Event | None = None,
        on_wait: Callable[[str], None] | None = None,
        poll: float = 1.0,
    ) -> None:
        """Take the lease, waiting for the holder when `wait`; LeaseBusyError otherwise."""
        announced = False
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            if not wait:
                raise LeaseBusyError(
                    self.source, f"another archiver ({holder}) is syncing this source; try again later"
                )
            if not announced and on_wait is not None:
                on_wait(holder)
                announced = True
            if stop is not None and stop.wait(poll):
                raise LeaseBusyError(self.source, "stopped while waiting for another archiver's lease")
            if stop is None:
                threading.Event().wait(poll)

    def renew(self, connection: Connection) -> None:
        """Extend the lease inside the caller's transaction; raise if it was lost."""
        now = datetime.now(UTC)
        kept = connection.execute(
            update(SyncState)
            .where(SyncState.source_id == self.source_id, SyncState.lease_owner == self.owner)
            .values(lease_expires_at=now + self.ttl)
        ).rowcount
        if not kept:
            raise LeaseLost(self.source, "lost the sync lease to another archiver; stopped writing")

    def release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(SyncState)
                .where(SyncState.source_id == self.source_id, SyncState.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
