"""Fixtures for dispatch tests: a fresh SMPP peer per test, a PostgreSQL database per session, Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.peers import started
from tests.peers.smpp_peer import SmppPeer, start_peer

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[SmppPeer]:
    """A fresh SMPP peer whose log holds only this test's submits."""
    with started():
        p = start_peer(tmp_path / "submits.jsonl", dlr_delay_ms=10)
    yield p
    p.stop()


@pytest.fixture
def vendor_peer(tmp_path: Path) -> Iterator[SmppPeer]:
    """A fresh SMPP peer in vendor mode: it also answers query_sm by our client reference (an extension)."""
    with started():
        p = start_peer(tmp_path / "vendor-submits.jsonl", dlr_delay_ms=10, mode="vendor")
    yield p
    p.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database created for this test session and dropped at its end."""
    name = f"dunning_dispatch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"dunning-test:{uuid.uuid4().hex[:10]}:"
    client = redis.Redis.from_url(REDIS)
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
