"""`dunning channels sweep` and `dunning channels reconcile` as an operator runs them (a cron job, or by hand)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from dunning.config import ChannelSettings, get_settings
from dunning.db.models import Message
from dunning.entrypoints.cli.channels import app
from dunning.testing import system_now
from tests.dispatch.factories import bulk_campaign
from tests.dispatch.support import make_ctx


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUNNING_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("DUNNING_SETTINGS_FILE", str(tmp_path / "none.toml"))
    monkeypatch.delenv("DUNNING_DATABASE_URL", raising=False)
    monkeypatch.delenv("DUNNING_BUSINESS_TIME", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_sweep_expires_only_messages_whose_receipt_is_overdue(env: Path) -> None:
    ctx = make_ctx(env, {"sandbox": ChannelSettings(kind="sandbox")}, clock=system_now)
    cid = bulk_campaign(ctx, 3)
    now = datetime.now(UTC)
    with ctx.db.transaction() as s:
        ids = list(s.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)))
        for mid, age in zip(ids, (80, 73, 1), strict=True):  # hours since submission; the timeout is 72
            s.execute(update(Message).where(Message.id == mid).values(
                state="submitted", submitting_at=now - timedelta(hours=age), submitted_at=now - timedelta(hours=age),
                provider_id=f"p{mid}"))
    ctx.db.dispose()

    r = CliRunner().invoke(app, ["sweep", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"expired": 2, "timeout_hours": 72.0}
    with ctx.db.transaction() as s:
        assert list(s.scalars(select(Message.state).where(Message.campaign_id == cid).order_by(Message.id))) == [
            "expired", "expired", "submitted"]
    assert json.loads(CliRunner().invoke(app, ["sweep", "--json"]).output)["expired"] == 0  # nothing twice


def test_reconcile_names_the_configured_channels_when_the_name_is_wrong(env: Path) -> None:
    r = CliRunner().invoke(app, ["reconcile", "nosuch"])
    assert r.exit_code != 0
    assert "nosuch" in r.output and "sandbox" in r.output
