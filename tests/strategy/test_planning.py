"""Planning through the service: windows, holidays, payday, payments, flags, summary counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dunning.db.models import Payment, PhoneFlag
from dunning.testing import FrozenClock
from tests.strategy.helpers import HOLIDAY, Acct, at, by_loan, import_accounts, make_ctx, plan

WINDOW_8_22 = """
name: edges
send_window: {start: "08:00", end: "22:00"}
segments:
  - {name: m1, when: {bucket: [M1]}, steps: [{name: s, dpd: [1], template: M1}]}
"""


def plan_at(tmp_path: Path, now: datetime, strategy: str | None, accounts: list[Acct], as_of: date) -> tuple:
    clock = FrozenClock(now)
    ctx = make_ctx(tmp_path, clock)
    iid = import_accounts(ctx, accounts, as_of)
    return ctx, plan(ctx, strategy, tmp_path, iid, as_of)


def test_window_edge_21_59_is_planned_and_22_00_is_not(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    ctx, s = plan_at(tmp_path / "a", at(day, 21, 59), WINDOW_8_22, [Acct("L1", 1)], day)
    m = by_loan(ctx, s.campaign_id)["L1"]
    assert (m.state, m.reason) == ("planned", None)
    assert m.scheduled_at is not None and at(day, 21, 59) <= m.scheduled_at.replace(tzinfo=UTC) < at(day, 22)
    assert m.send_before is not None and m.send_before.replace(tzinfo=UTC) == at(day, 22)
    ctx2, s2 = plan_at(tmp_path / "b", at(day, 22), WINDOW_8_22, [Acct("L1", 1)], day)
    m2 = by_loan(ctx2, s2.campaign_id)["L1"]
    assert (m2.state, m2.reason, m2.text) == ("suppressed", "window", None)
    assert s2.by_reason == {"window": 1} and s2.planned == 0


def test_planning_the_evening_before_starts_at_the_window_opening(tmp_path: Path) -> None:
    day = date(2026, 11, 24)
    ctx, s = plan_at(tmp_path, at(day - timedelta(days=1), 18), WINDOW_8_22, [Acct("L1", 1)], day)
    m = by_loan(ctx, s.campaign_id)["L1"]
    assert m.scheduled_at is not None and m.scheduled_at.replace(tzinfo=UTC) == at(day, 8)
    assert s.windows == {"Asia/Shanghai": "08:00–22:00"}




def test_skip_suppresses_on_national_day(tmp_path: Path) -> None:
    day = date(2026, 10, 1)
    ctx, s = plan_at(tmp_path, at(day, 10), HOLIDAY % ("skip", "statutory"), [Acct("L1", 3), Acct("L2", 4)], day)
    assert by_loan(ctx, s.campaign_id)["L1"].reason == "holiday"
    assert s.by_reason == {"holiday": 1} and s.holiday == "National Day"


def test_defer_moves_national_day_to_8_october(tmp_path: Path) -> None:
    holiday = date(2026, 10, 3)
    ctx, s = plan_at(tmp_path / "a", at(holiday, 10), HOLIDAY % ("defer", "statutory"),
                     [Acct("L1", 3), Acct("L2", 4)], holiday)
    assert (s.planned, s.suppressed, s.deferred, s.deferred_to) == (0, 0, 1, "2026-10-08")
    assert s.not_due_today == 2
    # On 8 October, L1 (DPD 3 on 3 October, so DPD 8 now) and today's DPD 3 both go; DPD 11 was 30 September.
    day = date(2026, 10, 8)
    ctx2, s2 = plan_at(tmp_path / "b", at(day, 10), HOLIDAY % ("defer", "statutory"),
                       [Acct("D8", 8), Acct("D3", 3), Acct("D11", 11)], day)
    got = by_loan(ctx2, s2.campaign_id)
    assert set(got) == {"D8", "D3"} and all(m.state == "planned" for m in got.values())
    assert s2.fire_days[0] == "2026-10-08" and len(s2.fire_days) == 8


def test_make_up_saturday_sends_and_the_sunday_after_defers(tmp_path: Path) -> None:
    saturday = date(2026, 10, 10)
    _, s = plan_at(tmp_path / "a", at(saturday, 10), HOLIDAY % ("defer", "rest_days"), [Acct("L1", 3)], saturday)
    assert s.planned == 1
    sunday = date(2026, 10, 11)
    _, s2 = plan_at(tmp_path / "b", at(sunday, 10), HOLIDAY % ("defer", "rest_days"), [Acct("L1", 3)], sunday)
    assert (s2.planned, s2.deferred, s2.deferred_to) == (0, 1, "2026-10-12")


PAYDAY = """
name: pay
segments:
  - {name: all, steps: [{name: s, dpd: [5], template: M1, payday_offset: 3}]}
"""


def test_payday_step_moves_across_the_month_end(tmp_path: Path) -> None:
    # DPD 5 fell on 25 February; payday 1 March; three days before is 26 February (DPD 6).
    day = date(2026, 2, 26)
    ctx, s = plan_at(tmp_path, at(day, 10), PAYDAY, [Acct("P", 6, payday=1), Acct("N", 6), Acct("O", 5)], day)
    assert set(by_loan(ctx, s.campaign_id)) == {"P", "O"}


def test_flags_and_payments_since_the_snapshot_suppress(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    clock = FrozenClock(at(day, 10))
    ctx = make_ctx(tmp_path, clock)
    accts = [Acct("PAID", 1, amount_fen=50_000), Acct("PART", 1, amount_fen=50_000), Acct("OLD", 1),
             Acct("OPT", 1, phone="+8613700000001"), Acct("OK", 1)]
    iid = import_accounts(ctx, accts, day)
    with ctx.db.transaction() as db:
        db.add_all([
            Payment(loan_id="PAID", amount_fen=50_000, paid_at=at(day, 8)),
            Payment(loan_id="PART", amount_fen=20_000, paid_at=at(day, 8)),
            # Paid before the snapshot: the exported amount already reflects it.
            Payment(loan_id="OLD", amount_fen=100_000, paid_at=at(day - timedelta(days=1), 12)),
            PhoneFlag(phone="+8613700000001", kind="opted_out", created_at=clock.now()),
        ])
    s = plan(ctx, WINDOW_8_22, tmp_path, iid, day)
    got = {k: m.reason for k, m in by_loan(ctx, s.campaign_id).items()}
    assert got == {"PAID": "paid", "PART": None, "OLD": None, "OPT": "opted_out", "OK": None}


def test_summary_counts_by_segment_variant_and_reason_add_up(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    accts = [Acct(f"A{i}", d) for i, d in enumerate([-3, -1, 0, 1, 1, 1, 3, 34, 61, 98, 2, 200, -20] * 20)]
    accts += [Acct("ZZ", 31, amount_fen=100)]
    ctx, s = plan_at(tmp_path, at(day, 10), None, accts, day)
    assert s.planned + s.suppressed + s.not_due_today == s.accounts == len(accts)
    assert s.suppressed == sum(s.by_reason.values()) and s.by_reason["holdout"] > 0
    assert s.planned == sum(s.by_segment.values()) == sum(s.by_template.values())
    assert set(s.by_step_variant["M1"]) == {"champion", "challenger", "holdout"}
    assert s.by_segment_reason["M1"] == {"holdout": s.by_reason["holdout"]}
    # Planning twice finds the campaign.
    again = plan(ctx, None, tmp_path, s.import_id, day)
    assert again.already_planned and again.campaign_id == s.campaign_id


def test_unmatched_accounts_are_counted_as_no_segment(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    strategy = "name: x\nsegments:\n  - {name: m1, when: {bucket: [M1]}, steps: [{dpd: [1], template: M1}]}\n"
    ctx, s = plan_at(tmp_path, at(day, 10), strategy, [Acct("A", 1), Acct("B", 40), Acct("C", 41)], day)
    assert s.by_reason == {"no_segment": 2} and s.by_segment_reason == {"none": {"no_segment": 2}}


def test_test_numbers_get_one_synthetic_sample_per_variant(tmp_path: Path) -> None:
    day = date(2026, 11, 23)
    strategy = """
name: t
pilot: {test_numbers: ["138 0013 8000"]}
segments:
  - name: m1
    steps:
      - {name: s, dpd: [1], variants: [{name: a, template: M1}, {name: b, template: M1_b}]}
"""
    ctx, s = plan_at(tmp_path, at(day, 10), strategy, [Acct(f"L{i}", 1, name="王小明") for i in range(10)], day)
    from tests.strategy.helpers import messages
    tests = [m for m in messages(ctx, s.campaign_id) if m.is_test]
    assert s.test_messages == 2 and s.planned == 10
    assert sorted(m.variant or "" for m in tests) == ["a", "b"]
    assert all(m.phone == "+8613800138000" and m.is_pilot and m.text and "王" not in m.text for m in tests)


def test_planned_messages_carry_the_overlays_signature_and_identity(tmp_path: Path) -> None:
    """A company overlay names another institution and signature: planning renders and lints with them (one
    signature everywhere), so the messages are planned, signed 【安心消金】, and name the overlay's hotline."""
    day = date(2026, 11, 23)
    ctx = make_ctx(tmp_path, FrozenClock(at(day, 10)))
    overlay = tmp_path / "company.yaml"
    overlay.write_text("institution: 安心消费金融\nsignatures: [安心消金]\nhotlines: ['95188']\n", encoding="utf-8")
    ctx.settings.policy_overlay = overlay
    iid = import_accounts(ctx, [Acct("L1", 1)], day)
    s = plan(ctx, WINDOW_8_22, tmp_path, iid, day)
    m = by_loan(ctx, s.campaign_id)["L1"]
    assert (m.state, m.reason) == ("planned", None)
    assert m.text is not None and m.text.startswith("【安心消金】") and m.text.count("【") == 1
    assert "95188" in m.text and "安心消费金融App" in m.text and "阳光消费金融" not in m.text
