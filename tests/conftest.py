from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dunning.config import ChannelSettings, Settings
from dunning.services.context import AppContext, build_context
from dunning.testing import FrozenClock
from tests.peers import in_ci

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
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (:func:`tests.web.browser.chromium`), for the browser tests."""
    from tests.web.browser import chromium

    with chromium() as b:
        yield b


def require_peer(name: str, probe: Callable[[], object]) -> None:
    """Make sure a peer the test needs (PostgreSQL, Redis, Chromium, …) is there.

    ``probe`` raises when it is not. Outside CI the test is skipped with the reason; in CI (``CI=true``) a
    missing peer fails the test, so a broken runner cannot pass by skipping. The servers and the browser are
    probed here; the protocol peers the channels are tested against start inside ``tests.peers.started``, with
    the same rule and the same ``in_ci``."""
    try:
        probe()
    except (OSError, ImportError, RuntimeError) as exc:  # what a missing server, driver or binary raises
        reason = f"{name} is not available ({type(exc).__name__}: {exc}); start it with scripts/setup-test-env.sh"
        if in_ci():
            pytest.fail(f"{reason} [CI=true: a missing peer is a failure]", pytrace=False)
        pytest.skip(reason)


def tcp_probe(host: str, port: int) -> Callable[[], object]:
    """A probe that a TCP server listens on ``host:port`` (one second to answer)."""
    return lambda: socket.create_connection((host, port), timeout=1.0).close()


def require_postgres() -> None:
    require_peer("PostgreSQL (127.0.0.1:5432)", tcp_probe("127.0.0.1", 5432))


def require_redis() -> None:
    require_peer("Redis (127.0.0.1:6379)", tcp_probe("127.0.0.1", 6379))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own (the local server ``scripts/setup-test-env.sh`` starts)."""
    import uuid

    import psycopg

    require_postgres()
    name = f"dunning_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on a SQLite file of its own, then on a PostgreSQL database of its own (``pg_url``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


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
