"""Shared dispatch state in the database: rate-limiter cells and per-campaign sender leases.

One small key/value table, ``dispatch_state`` (``key`` primary key, a float ``value``, a ``holder`` text), used
in two ways:

* ``rate:<channel>`` — the GCRA theoretical arrival time of a channel (:class:`DbLimiterStore`); changed only
  by an atomic compare-and-set (a conditional ``UPDATE … WHERE value = :old``). On SQLite these rows live in a
  file of their own next to the database (:func:`limiter_engine`), so limiter decisions never wait for the
  send path's bulk writes.
* ``lease:campaign:<id>`` — which sender process currently dispatches a campaign (``holder``) and until when
  (``value``, epoch seconds). Only the lease holder claims a campaign's messages, so ``submitting`` rows of a
  campaign whose lease is free (released, expired, or held by a dead process on this host) are orphans of a
  crash and may be reconciled without racing a live sender.

The table belongs to the schema: migration ``0005_dispatch_state`` creates it, and every database opened
through :func:`dunning.db.engine.open_database` is migrated. :func:`ensure_state_table` only checks that it is
there — except on a database that was never migrated at all (no ``alembic_version``), where it creates it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from dunning.db.engine import make_engine
from dunning.errors import ConfigError

STATE_METADATA = MetaData(naming_convention={"pk": "pk_%(table_name)s"})  # as dunning.db.models names it
DISPATCH_STATE = Table(
    "dispatch_state",
    STATE_METADATA,
    Column("key", String(128), primary_key=True),
    Column("value", Float, nullable=False),
    Column("holder", String(128), nullable=True),
)

_ensured: set[str] = set()
_ensure_lock = threading.Lock()


def ensure_state_table(engine: Engine) -> None:
    """Check that ``dispatch_state`` exists (once per engine URL and process).

    A migrated database has it from migration 0005; one migrated to an older revision is refused with a
    :class:`~dunning.errors.ConfigError` (run the migrations, never a table made behind Alembic's back).
    """
    url = str(engine.url)
    if url in _ensured:
        return
    with _ensure_lock:
        if url in _ensured:
            return
        insp = inspect(engine)
        if not insp.has_table(DISPATCH_STATE.name):
            if insp.has_table("alembic_version"):
                raise ConfigError(
                    "数据库结构不是最新版本（缺少 dispatch_state 表）：请先执行数据库迁移",
                    "the database schema is outdated (no dispatch_state table): run the migrations",
                    code="config.schema_outdated")
            # Fallback for engines on a database that was never migrated (the rate tests' bare SQLite and
            # PostgreSQL engines sharing a limiter store): create the table here, as migration 0005 would.
            try:
                STATE_METADATA.create_all(engine, checkfirst=True)
            except DBAPIError:
                # Another process created it between our check and our CREATE (PostgreSQL reports that as a
                # unique violation in its catalog); anything else shows up again on the next statement.
                if not inspect(engine).has_table(DISPATCH_STATE.name):
                    raise
        _ensured.add(url)


def process_holder() -> str:
    """A holder id that names this host and process, unique per call (``host:pid:random``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str | None) -> bool:
    """True only when the holder is a process of this host that no longer exists."""
    if not holder:
        return True
    host, _, rest = holder.partition(":")
    pid_s = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


_limiter_engines: dict[str, Engine] = {}


def limiter_engine(engine: Engine) -> Engine:
    """Where the limiter cells of ``engine``'s database live.

    PostgreSQL: the database itself (a row lock per decision). A SQLite file: a small SQLite file of its own next
    to it (``dunning.db`` → ``dunning.limiter.db``), shared the same way by every process on the machine. SQLite
    has one writer per file: in the main file, every limiter decision (one per channel call) queued behind the
    send path's and the receipts' bulk writes for tens of milliseconds, and those waits left the dispatcher idle
    about half the time at high rates. One pooled engine per file and process: a decision is then five short
    statements on an open connection (each statement hands the GIL back and forth, see :mod:`dunning.db.bulk`).
    """
    if engine.dialect.name != "sqlite":
        return engine
    path = engine.url.database or ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return engine
    own = str(Path(path).with_suffix("")) + ".limiter.db"
    cached = _limiter_engines.get(own)
    if cached is None:
        cached = _limiter_engines.setdefault(own, make_engine(f"sqlite:///{own}"))
    return cached


@dataclass
class DbLimiterStore:
    """A :class:`~dunning.dispatch.ratelimit.LimiterStore` in the database (for SQLite, in a file of its own
    next to it: :func:`limiter_engine`), shared by every process using it."""

    engine: Engine
    prefix: str = "rate:"

    def __post_init__(self) -> None:
        self.engine = limiter_engine(self.engine)
        ensure_state_table(self.engine)

    def get(self, key: str) -> float | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(DISPATCH_STATE.c.value).where(DISPATCH_STATE.c.key == self.prefix + key)
            ).scalar()
        return None if value is None else float(value)

    def update(self, key: str, step: Callable[[float | None], float | None]) -> None:
        """Read, decide and write under the row's write lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
        ``FOR UPDATE``), so the clock ``step`` reads is not stale by another writer's lock wait; the write is
        still a conditional ``UPDATE … WHERE value = :old``."""
        k = self.prefix + key
        pg = self.engine.dialect.name == "postgresql"
        while True:
            with self.engine.begin() as conn:
                if not pg:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                q = select(DISPATCH_STATE.c.value).where(DISPATCH_STATE.c.key == k)
                raw = conn.execute(q.with_for_update() if pg else q).scalar()
                old = None if raw is None else float(raw)
                new = step(old)
                if new is None:
                    return
                if old is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(insert(DISPATCH_STATE).values(key=k, value=new, holder=None))
                    except IntegrityError:
                        continue
                    return
                res = conn.execute(update(DISPATCH_STATE).where(DISPATCH_STATE.c.key == k,
                                                                DISPATCH_STATE.c.value == old).values(value=new))
                if res.rowcount:
                    return

    def compare_and_set(self, key: str, old: float | None, new: float) -> bool:
        k = self.prefix + key
        with self.engine.begin() as conn:
            if old is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(DISPATCH_STATE).values(key=k, value=new, holder=None))
                except IntegrityError:
                    return False
                return True
            res = conn.execute(
                update(DISPATCH_STATE).where(DISPATCH_STATE.c.key == k, DISPATCH_STATE.c.value == old)
                .values(value=new)
            )
            return bool(res.rowcount)


@dataclass
class CampaignLease:
    """The right to dispatch one campaign, held by one process at a time.

    ``acquire`` succeeds when the lease is free, expired, already ours, or held by a process of this host that
    died (a ``kill -9`` leaves no time to release it). ``renew`` must be called more often than ``ttl``; when it
    returns False another process took the lease over and this one must stop claiming.
    """

    engine: Engine
    campaign_id: int
    holder: str = field(default_factory=process_holder)
    ttl: float = 30.0
    clock: Callable[[], float] = time.time
    previous_holder: str | None = None  # who held it before we took it over (None: it was free or released)

    def __post_init__(self) -> None:
        ensure_state_table(self.engine)

    @property
    def key(self) -> str:
        return f"lease:campaign:{self.campaign_id}"

    def current(self) -> tuple[str | None, float] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(DISPATCH_STATE.c.holder, DISPATCH_STATE.c.value).where(DISPATCH_STATE.c.key == self.key)
            ).first()
        return None if row is None else (row[0], float(row[1]))

    def acquire(self) -> bool:
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(DISPATCH_STATE.c.holder, DISPATCH_STATE.c.value).where(DISPATCH_STATE.c.key == self.key)
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(DISPATCH_STATE).values(key=self.key, value=now + self.ttl,
                                                                   holder=self.holder))
                except IntegrityError:
                    return False
                self.previous_holder = None
                return True
            holder, expires = row[0], float(row[1])
            if holder is not None and holder != self.holder and expires > now and not holder_is_dead(holder):
                return False
            cond = DISPATCH_STATE.c.holder.is_(None) if holder is None else DISPATCH_STATE.c.holder == holder
            res = conn.execute(
                update(DISPATCH_STATE).where(DISPATCH_STATE.c.key == self.key, cond)
                .values(holder=self.holder, value=now + self.ttl)
            )
            if not res.rowcount:
                return False
            self.previous_holder = holder if holder != self.holder else None
            return True

    def renew(self) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                update(DISPATCH_STATE).where(DISPATCH_STATE.c.key == self.key, DISPATCH_STATE.c.holder == self.holder)
                .values(value=self.clock() + self.ttl)
            )
            return bool(res.rowcount)

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(DISPATCH_STATE).where(DISPATCH_STATE.c.key == self.key, DISPATCH_STATE.c.holder == self.holder)
                .values(holder=None, value=0.0)
            )
