"""One writer per source, on every backend: a lease row taken with one atomic UPDATE.

A daemon, a manual backfill and a second daemon replica never sync the same source at
once. The lease expires unless renewed (each page renews it inside the page's own
transaction), so a process that died elsewhere blocks its source for at most one lease
time; one that died on this machine (same kernel and pid namespace) is seen to be gone
and its lease taken at once, so `archiver backfill` after a kill resumes without waiting.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from archiver.db.models import SyncRun, SyncState
from archiver.errors import LeaseBusyError, SourceError
from archiver.log import get_logger

log = get_logger("archiver.lease")

DEFAULT_LEASE_TIME = timedelta(minutes=2)


@cache
def _renewal(columns: frozenset[str]) -> Any:
    """The guarded renewal UPDATE writing these `sync_state` columns, built once: it runs
    on every page of every walk."""
    return (
        update(SyncState)
        .where(SyncState.source_id == bindparam("_source"), SyncState.lease_owner == bindparam("_owner"))
        .values(lease_expires_at=bindparam("lease_expires_at"), **{name: bindparam(name) for name in columns})
    )


@cache
def _pid_space() -> str:
    """Names the kernel boot and pid namespace we run in: a pid means something only
    there. Empty where /proc cannot tell, and then no other owner is ever judged gone."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return hashlib.sha256(f"{boot}:{namespace}".encode()).hexdigest()[:8]


def new_owner() -> str:
    """Who holds a lease: readable for people, unique per process run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{_pid_space()}"


def owner_is_gone(owner: str) -> bool:
    """True only when `owner` ran in our own pid space and its process no longer exists."""
    parts = owner.rsplit(":", 3)
    if len(parts) != 4 or not parts[3] or parts[3] != _pid_space() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive under another user, or unknowable: wait for the expiry
        return False
    return False


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

    def try_acquire(self, gone: str | None = None) -> str | None:
        """Take the lease if free or expired (or held by `gone`, a holder seen to be dead);
        None on success, else the current holder."""
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
                        *((SyncState.lease_owner == gone,) if gone else ()),
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
            if owner_is_gone(holder):
                log.warning(
                    "taking over the lease of an archiver process that is gone",
                    source=self.source,
                    holder=holder,
                )
                holder = self.try_acquire(gone=holder)
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

    def renew(self, connection: Connection, **state: Any) -> None:
        """Extend the lease inside the caller's transaction, writing `state` columns of
        `sync_state` in the same guarded statement; raise if the lease was lost."""
        now = datetime.now(UTC)
        parameters = {"_source": self.source_id, "_owner": self.owner, "lease_expires_at": now + self.ttl}
        kept = connection.execute(_renewal(frozenset(state)), {**parameters, **state}).rowcount
        if not kept:
            raise LeaseLost(self.source, "lost the sync lease to another archiver; stopped writing")

    def release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(SyncState)
                .where(SyncState.source_id == self.source_id, SyncState.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
