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


def test_visit_notice_from_the_command_line_by_a_supervisor_once(ctx: AppContext, world: World) -> None:
    from dunning.entrypoints.cli.app import app as root
    from dunning.services.identity.users import add_user

    add_user(ctx, "boss", "supervisor", password="correct-horse-9", agency="华信催收")
    add_user(ctx, "li", "collector", password="correct-horse-9", agency="华信催收")
    vid = approved(ctx, world, local(date(2026, 11, 23), 15))
    env = {"DUNNING_DATA_DIR": str(ctx.settings.data_dir), "DUNNING_SECRET_KEY": "test-secret-key",
           "DUNNING_SETTINGS_FILE": str(ctx.settings.data_dir / "none.toml"), "DUNNING_TOKEN": "",
           "DUNNING_BUSINESS_TIME": "2026-11-23T02:00:00+00:00", "DUNNING_PASSWORD": "correct-horse-9"}

    def run(who: str, *args: str) -> tuple[int, dict[str, object]]:
        r = CliRunner().invoke(root, ["visits", "notice", *args, "--as", who, "--json"], env=env)
        return r.exit_code, json.loads(r.stdout) if r.stdout.strip() else {"output": r.output}

    code, out = run("li", "--day", "2026-11-23")
    assert code == 2 and out["error"]["code"] == "auth.forbidden"  # type: ignore[index]
    code, out = run("boss", "--day", "2026-11-23")
    assert code == 0 and out["notified"] == [vid] and out["planned"] == 1, out
    code, out = run("boss", str(vid))
    assert code == 2 and f"外访 #{vid}" in str(out["error"]) and "已由批次" in str(out["error"])
