"""`dunning agencies|tenders|allocations …` from a terminal: authenticated, role-checked, agency-scoped."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dunning.entrypoints.cli.app import app
from dunning.services.context import AppContext
from dunning.testing import FrozenClock
from tests.agencies.flow import APPROVER, MANAGER, PASSWORD
from tests.agencies.test_allocation_flow import AS_OF, awarded, portfolio
from tests.strategy.helpers import import_accounts


def _cli(ctx: AppContext, clock: FrozenClock, who: str, *args: str) -> tuple[int, Any]:
    env = {"DUNNING_DATA_DIR": str(ctx.settings.data_dir), "DUNNING_SECRET_KEY": "test-secret-key",
           "DUNNING_SETTINGS_FILE": str(ctx.settings.data_dir / "none.toml"),
           "DUNNING_BUSINESS_TIME": clock.now().isoformat(), "DUNNING_PASSWORD": PASSWORD, "DUNNING_TOKEN": ""}
    r = CliRunner().invoke(app, [*args, "--as", who, "--json"], env=env)
    return r.exit_code, json.loads(r.stdout) if r.stdout.strip() else r.output


def test_a_collections_manager_runs_the_agency_cycle_from_the_terminal(ctx: AppContext, clock: FrozenClock,
                                                                         tmp_path: Path) -> None:
    t = awarded(ctx, clock)
    hx, cd = t.agencies["华信商务"], t.agencies["诚达咨询"]
    imp = import_accounts(ctx, portfolio(100), AS_OF)

    code, out = _cli(ctx, clock, APPROVER, "agencies", "add", "远信", "--legal-name", "远信咨询有限公司",
                     "--capacity", "3000", "--bucket", "M2", "--region", "广东", "--pipl-end", "2027-12-31")
    assert code == 0 and out["status"] == "candidate" and out["buckets"] == ["M2"]
    code, out = _cli(ctx, clock, MANAGER, "agencies", "add", "别家", "--legal-name", "别家有限公司")
    assert code == 2 and out["error"]["code"] == "auth.forbidden"  # a strategist does not keep the registry

    code, out = _cli(ctx, clock, "agent1", "agencies", "list")
    assert code == 0 and [a["name"] for a in out["agencies"]] == ["华信商务"] and out["alerts"] == []
    code, out = _cli(ctx, clock, MANAGER, "agencies", "list")
    assert {a["name"] for a in out["agencies"]} == {"华信商务", "诚达咨询", "远信"}

    end = (AS_OF + timedelta(days=29)).isoformat()
    code, out = _cli(ctx, clock, "agent1", "allocations", "run", str(t.lot_id), "--import", str(imp),
                     "--start", AS_OF.isoformat(), "--end", end)
    assert code == 2  # an agency user cannot allocate
    code, out = _cli(ctx, clock, MANAGER, "allocations", "run", str(t.lot_id), "--import", str(imp),
                     "--start", AS_OF.isoformat(), "--end", end)
    assert code == 0 and out["allocated"] == 100 and out["by_agency"] == {"华信商务": 70, "诚达咨询": 30}
    period = out["period_id"]
    code, out = _cli(ctx, clock, "agent2", "allocations", "list")
    assert code == 0 and [(p["id"], p["accounts"]) for p in out] == [(period, 30)]

    code, out = _cli(ctx, clock, "agent1", "tenders", "show", str(t.tender_id))
    assert code == 2 and out["error"]["code"] == "auth.forbidden"  # score sheets are for staff
    code, out = _cli(ctx, clock, MANAGER, "tenders", "show", str(t.tender_id))
    assert code == 0 and {b["agency"] for b in out["bids"]} == {"华信商务", "诚达咨询"} and len(out["awards"]) == 2
    code, out = _cli(ctx, clock, MANAGER, "tenders", "report", str(t.tender_id), "--out", str(tmp_path / "t.xlsx"))
    assert code == 0 and (tmp_path / "t.xlsx").stat().st_size > 0
    code, out = _cli(ctx, clock, MANAGER, "tenders", "list")
    assert code == 0 and out[0]["id"] == t.tender_id and out[0]["state"] == "awarded"

    code, out = _cli(ctx, clock, APPROVER, "agencies", "statement", str(period), "--out", str(tmp_path / "c.csv"))
    assert code == 0 and out["lines"] == [] and (tmp_path / "c.csv").exists()  # nothing recovered yet
    with (tmp_path / "c.csv").open(encoding="utf-8-sig") as f:
        assert len(list(csv.reader(f))) == 1  # the header alone

    code, out = _cli(ctx, clock, MANAGER, "allocations", "recall", str(period), "--reason", "on_request",
                     "--agency", str(cd))
    assert code == 0 and out["recalled"] == 30
    code, out = _cli(ctx, clock, APPROVER, "agencies", "status", str(hx), "suspended", "--reason", "投诉激增，暂停接案")
    assert code == 0 and out["status"] == "suspended"
    code, out = _cli(ctx, clock, "agent1", "agencies", "show", str(cd))
    assert code == 2  # another agency's record
