"""The demo's visits: one awaiting approval, one closed with a promise, one whose missed check-in is alarmed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits import queries
from dunning.services.visits.demo import seed_demo_visits
from dunning.testing import FrozenClock
from tests.strategy.helpers import Acct, at, import_accounts, make_ctx


def test_demo_seeds_three_visits_with_one_missed_check_in(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    ctx = make_ctx(tmp_path, FrozenClock(at(day, 10)))
    iid = import_accounts(ctx, [Acct(f"D{i}", 1) for i in range(3)], day)
    said: list[str] = []
    assert seed_demo_visits(ctx, iid, said.append) == 3
    boss = Principal("sun.supervisor", "孙磊", Role.SUPERVISOR)
    states = sorted(v.state for v in queries.list_visits(ctx, boss))
    assert states == ["closed", "in_field", "requested"]
    alarms = queries.board(ctx, boss)["alarms"]
    assert [a["kind"] for a in alarms] == ["missed_checkin"]
    assert seed_demo_visits(ctx, iid) == 0  # a second demo run adds nothing
