"""`dunning visits tick` (the cron entry of the safety timer) raises an alarm once for a missed check-in."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from dunning.entrypoints.cli.visits import app
from dunning.services.context import AppContext
from dunning.services.visits import field
from dunning.services.visits.policy import load_policy
from tests.visits.conftest import HOME, World, approved, local


def test_tick_from_the_command_line(ctx: AppContext, world: World, tmp_path: Path) -> None:
    vid = approved(ctx, world, local(date(2026, 11, 23), 10))
    field.check_in(ctx, world.lead, vid, field.Position(*HOME), checklist=[c.code for c in load_policy().checklist],
                   recording=True)
    # The command's clock starts 25 minutes after that check-in (its interval is 20 minutes).
    env = {"DUNNING_DATA_DIR": str(tmp_path / ".dunning"), "DUNNING_SECRET_KEY": "k",
           "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml"), "DUNNING_BUSINESS_TIME": "2026-11-23T02:25:00+00:00"}
    runner = CliRunner()
    first = runner.invoke(app, ["tick", "--json"], env=env)
    assert first.exit_code == 0, first.stdout
    assert len(json.loads(first.stdout)["raised"]) == 1
    again = json.loads(runner.invoke(app, ["tick", "--json"], env=env).stdout)
    assert again == {"raised": [], "escalated": [], "alerts": {"sent": [], "retrying": [], "failed": []}}
