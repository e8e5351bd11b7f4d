from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dunning.config import ChannelSettings, Settings
from dunning.services.context import AppContext, build_context
from dunning.testing import FrozenClock

# 10:00 Asia/Shanghai on 2026-11-23: inside the send window.
BUSINESS_NOON = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def make_settings(tmp_path: Path, **channel_options: object) -> Settings:
    return Settings(
        data_dir=tmp_path / ".dunning",
        secret_key="test-secret-key",  # type: ignore[arg-type]
        channels={"sandbox": ChannelSettings(kind="sandbox", rate=100000.0,
                                             options={"seed": 7, **channel_options})},
    )


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process (``get_settings``); a CLI test that sets ``DUNNING_*`` variables must not
    hand its data directory to the next test."""
    from dunning.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(BUSINESS_NOON)


@pytest.fixture
def ctx(tmp_path: Path, clock: FrozenClock) -> Iterator[AppContext]:
    c = build_context(make_settings(tmp_path), clock=clock.now)
    yield c
    c.db.dispose()


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own (the local server ``scripts/setup-test-env.sh`` starts)."""
    import uuid

    import psycopg

    name = f"dunning_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A Redis database (1–15) that holds no keys right now, so parallel runs do not share a queue."""
    import random

    import redis

    dbs = list(range(1, 16))
    random.shuffle(dbs)
    for db in dbs:
        client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}")
        if client.dbsize() == 0:
            break
        client.close()
    else:
        pytest.fail("no empty Redis database (1–15) for the broker")
    try:
        yield f"redis://127.0.0.1:6379/{db}"
    finally:
        client.flushdb()
        client.close()
