"""The main job on PostgreSQL: migrations, COPY bulk writes, claims and reports work there as on SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from dunning.services.demo import run_demo
from tests.conftest import make_settings


def test_demo_on_postgresql_twice(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path)
    settings.database_url = pg_url
    settings.business_time = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    first = run_demo(accounts=1500, seed=4, settings=settings, as_of=date(2026, 11, 23))
    assert first["database"].startswith("postgresql")
    assert first["campaign"]["state"] == "completed", first
    imp = first["import"]
    assert imp["accepted"] + imp["rejected"] == imp["rows"]
    c = first["campaign"]
    assert first["delivery"]["sent"] + c["suppressed"] <= c["planned"] + c["suppressed"]
    assert first["delivery"]["delivered"] > 0
    second = run_demo(accounts=1500, seed=4, settings=settings, as_of=date(2026, 11, 23))
    assert second["delivery"] == first["delivery"]
    assert any("未发送任何短信" in f for f in second["found_existing"])
