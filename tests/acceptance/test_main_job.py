"""The whole main job through the real CLI, as an analyst would run it, with the numbers adding up exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AS_OF = "2026-11-23"
BUSINESS_TIME = "2026-11-23T02:00:00+00:00"  # 10:00 Asia/Shanghai


PASSWORDS = {"wang.ops": "wang-ops-password", "li.compliance": "li-compliance-password"}


def cli(env: dict[str, str], *args: str, expect: int = 0) -> Any:
    """Run the CLI; ``--as NAME`` is proven with NAME's password (the way a script authenticates a person)."""
    claimed = args[args.index("--as") + 1] if "--as" in args else None
    run_env = {**env, "DUNNING_PASSWORD": PASSWORDS[claimed]} if claimed in PASSWORDS else env
    proc = subprocess.run([sys.executable, "-m", "dunning.entrypoints.cli.app", *args], env=run_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return json.loads(proc.stdout) if "--json" in args and proc.stdout.strip() else proc


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update({"DUNNING_DATA_DIR": str(tmp_path / "data"), "DUNNING_SECRET_KEY": "acceptance-secret",
              "DUNNING_BUSINESS_TIME": BUSINESS_TIME, "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml")})
    e.pop("DUNNING_DATABASE_URL", None)
    return e


def test_portfolio_to_delivered_messages_numbers_add_up(env: dict[str, str], tmp_path: Path) -> None:
    portfolio = tmp_path / "portfolio.csv"
    cli(env, "sample", "--accounts", "1500", "--seed", "5", "--as-of", AS_OF, "-o", str(portfolio))
    # the installer adds the first administrator (their OS account is mapped to it), who adds the people
    cli(env, "users", "add", "root", "--role", "admin", "--password", "root-admin-password", "--json")
    for name, role in (("wang.ops", "operator"), ("li.compliance", "compliance")):
        cli(env, "users", "add", name, "--role", role, "--password", PASSWORDS[name], "--json")

    imp = cli(env, "import", str(portfolio), "--as-of", AS_OF, "--as", "wang.ops", "--json")
    assert imp["accepted"] + imp["rejected"] == imp["rows"] >= 1500
    assert imp["rejected"] == sum(imp["reasons"].values()) > 0

    again = cli(env, "import", str(portfolio), "--as-of", AS_OF, "--as", "wang.ops", "--json")
    assert again["import_id"] == imp["import_id"] and again["already_imported"]

    plan = cli(env, "campaign", "plan", "--as-of", AS_OF, "--as", "wang.ops", "--json")
    cid = plan["campaign_id"]
    assert plan["accounts"] == imp["accepted"]
    assert plan["planned"] + plan["suppressed"] + plan["not_due_today"] == plan["accounts"]
    assert plan["suppressed"] == sum(plan["by_reason"].values())
    assert plan["planned"] == sum(plan["by_segment"].values()) == sum(plan["by_template"].values())
    assert plan["by_reason"].get("holdout", 0) > 0

    # The full send is refused before a pilot is approved.
    refused = cli(env, "campaign", "send", str(cid), "--as", "wang.ops", "--json", expect=2)
    assert refused["error"]["code"] == "state.not_approved"

    pilot = cli(env, "campaign", "pilot", str(cid), "--as", "wang.ops", "--json")
    assert 0 < pilot["sample"] < plan["planned"]
    assert pilot["sent"] == pilot["sample"]

    self_approval = cli(env, "campaign", "approve", str(cid), "--as", "wang.ops", "--json", expect=2)
    assert self_approval["error"]["code"] in ("auth.forbidden", "state.four_eyes")
    if pilot["go"]:
        cli(env, "campaign", "approve", str(cid), "--as", "li.compliance", "--json")
    else:
        pytest.fail(f"pilot did not pass go/no-go: {pilot['checks']}")

    sent = cli(env, "campaign", "send", str(cid), "--as", "wang.ops", "--json")
    assert sent["state"] == "completed"
    msgs = sent["messages"]
    total = sum(msgs.values())
    assert total == plan["planned"] + plan["suppressed"]
    assert msgs.get("queued", 0) == msgs.get("planned", 0) == msgs.get("submitting", 0) == 0
    went_out = sum(msgs.get(k, 0) for k in ("submitted", "delivered", "failed", "expired"))
    suppressed_at_send = msgs.get("suppressed", 0) - plan["suppressed"]
    assert went_out + suppressed_at_send == plan["planned"]
    assert msgs["delivered"] > 0.9 * went_out

    # A second send finds the campaign finished and sends nothing.
    again = cli(env, "campaign", "send", str(cid), "--as", "wang.ops", "--json")
    assert again["messages"] == msgs and again.get("already_finished")

    report = cli(env, "campaign", "report", str(cid), "--json")
    assert Path(report["html"]).read_text(encoding="utf-8").count("批次报告") >= 1
    assert Path(report["xlsx"]).stat().st_size > 0
