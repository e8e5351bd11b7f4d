"""Attribution and intention-to-treat outcomes on small hand-made frames (the pure layer, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dunning.reporting.attribution import account_units, attribute_payments
from dunning.reporting.frames import MESSAGES_SCHEMA, PAYMENTS_SCHEMA, TOUCHES_SCHEMA, empty_frames
from dunning.reporting.settings import OutcomeSettings

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
HOUR = timedelta(hours=1)


def touches(*rows: tuple[int, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame([{"message_id": m, "loan_id": loan, "sent_at": t} for m, loan, t in rows],
                        schema=TOUCHES_SCHEMA)


def payments(*rows: tuple[str, int, datetime]) -> pl.DataFrame:
    return pl.DataFrame([{"loan_id": loan, "amount_fen": a, "paid_at": t} for loan, a, t in rows],
                        schema=PAYMENTS_SCHEMA)


def credited(pay: pl.DataFrame, tch: pl.DataFrame, window: timedelta = WEEK) -> list[int | None]:
    return attribute_payments(pay, tch, window)["message_id"].to_list()


def test_payment_goes_to_the_latest_of_two_delivered_messages() -> None:
    tch = touches((1, "L1", T0), (2, "L1", T0 + 2 * DAY))
    assert credited(payments(("L1", 500, T0 + 3 * DAY)), tch) == [2]


def test_payment_between_two_messages_goes_to_the_earlier_one() -> None:
    tch = touches((1, "L1", T0), (2, "L1", T0 + 2 * DAY))
    assert credited(payments(("L1", 500, T0 + DAY)), tch) == [1]


def test_payment_outside_the_window_is_unattributed_and_the_boundary_is_inclusive() -> None:
    tch = touches((1, "L1", T0))
    pay = payments(("L1", 500, T0 + WEEK), ("L1", 500, T0 + WEEK + timedelta(seconds=1)))
    assert credited(pay, tch) == [1, None]


def test_payment_before_any_delivered_message_is_unattributed() -> None:
    tch = touches((1, "L1", T0))
    assert credited(payments(("L1", 500, T0 - timedelta(minutes=1))), tch) == [None]


def test_another_loans_message_takes_no_credit() -> None:
    tch = touches((1, "L2", T0))
    assert credited(payments(("L1", 500, T0 + DAY)), tch) == [None]


def test_window_is_configurable() -> None:
    tch = touches((1, "L1", T0))
    pay = payments(("L1", 500, T0 + 5 * DAY))
    assert credited(pay, tch, timedelta(days=3)) == [None]
    assert credited(pay, tch, timedelta(days=7)) == [1]


def test_payments_keep_their_input_order() -> None:
    tch = touches((1, "L1", T0), (2, "L2", T0))
    pay = payments(("L2", 1, T0 + 2 * DAY), ("L1", 2, T0 + DAY), ("L3", 3, T0))
    out = attribute_payments(pay, tch, WEEK)
    assert out["amount_fen"].to_list() == [1, 2, 3]
    assert out["message_id"].to_list() == [2, 1, None]


def _message(mid: int, loan: str, *, state: str = "delivered", variant: str | None = "A", due: int = 1000,
             sent: datetime | None = T0) -> dict[str, object]:
    return {"message_id": mid, "loan_id": loan, "phone": "+8613800000000", "segment": "M1", "step": "M1",
            "variant": variant, "template_version_id": None if variant == "holdout" else 1,
            "template": None if variant == "holdout" else "M1 v1", "state": state,
            "reason": "holdout" if variant == "holdout" else None, "error_code": None, "channel": "sandbox",
            "sent_at": None if state == "suppressed" else sent, "amount_due_fen": due, "bucket": "M1"}


def units(messages: list[dict[str, object]], pay: pl.DataFrame, settings: OutcomeSettings | None = None,
          start: datetime | None = T0) -> pl.DataFrame:
    frames = replace(empty_frames(T0 + 30 * DAY), messages=pl.DataFrame(messages, schema=MESSAGES_SCHEMA),
                     payments=pay, planned_start=start)
    return account_units(frames, settings or OutcomeSettings()).sort("message_id")


def test_partial_and_full_repayment_against_the_amount_due() -> None:
    u = units([_message(1, "L1"), _message(2, "L2"), _message(3, "L3")], payments(
        ("L1", 400, T0 + DAY),                                   # partial
        ("L2", 400, T0 + DAY), ("L2", 600, T0 + 2 * DAY),        # two payments make it full
        ("L3", 1500, T0 + DAY),                                  # more than due is full too
    ))
    assert u.select("attr_partial", "attr_full").rows() == [(True, False), (False, True), (False, True)]
    assert u.select("partial", "full").rows() == [(True, False), (False, True), (False, True)]
    assert u["attributed_fen"].to_list() == [400, 1000, 1500]


def test_failed_message_earns_no_credit_but_its_account_still_counts_in_its_arm() -> None:
    u = units([_message(1, "L1", state="failed")], payments(("L1", 1000, T0 + DAY)))
    assert u["attr_repaid"].to_list() == [False]
    # Intention to treat: the account was assigned to the arm and repaid within the window.
    assert u["repaid"].to_list() == [True]


def test_holdout_is_measured_from_its_planned_send_time() -> None:
    u = units([_message(1, "L1", state="suppressed", variant="holdout"),
               _message(2, "L2", state="suppressed", variant="holdout"),
               _message(3, "L3", state="suppressed", variant="holdout")],
              payments(("L1", 1000, T0 + 2 * DAY), ("L2", 1000, T0 - timedelta(hours=1)),
                       ("L3", 1000, T0 + 8 * DAY)))
    assert u["repaid"].to_list() == [True, False, False]
    assert u["attr_repaid"].to_list() == [False, False, False]
    assert u["days_to_pay"].to_list() == [2.0, None, None]


def test_every_arm_is_measured_from_the_campaigns_planned_start() -> None:
    # Planning leaves the hold-out unscheduled; a reminder goes out late in the day. Both are measured from the
    # window's opening, so the morning payment counts for both arms alike.
    late = _message(1, "L1", sent=T0 + 8 * HOUR)
    hold = _message(2, "L2", state="suppressed", variant="holdout")
    u = units([late, hold], payments(("L1", 1000, T0 + HOUR), ("L2", 1000, T0 + HOUR)))
    assert u["repaid"].to_list() == [True, True]
    assert u["attr_repaid"].to_list() == [False, False]  # paid before the reminder was sent
    assert u["days_to_pay"].to_list() == pytest.approx([1 / 24, 1 / 24])


def test_without_a_planned_start_the_first_sending_stands_in() -> None:
    u = units([_message(1, "L1", sent=T0 + 2 * HOUR), _message(2, "L2", sent=T0 + 5 * HOUR)],
              payments(("L1", 1000, T0 + HOUR), ("L2", 1000, T0 + 3 * HOUR)), start=None)
    assert u["anchor"].unique().to_list() == [T0 + 2 * HOUR]
    assert u["repaid"].to_list() == [False, True]


def test_days_to_pay_counts_from_sending_for_credit_and_from_the_plan_for_the_arm() -> None:
    u = units([_message(1, "L1", sent=T0 + 12 * HOUR)], payments(("L1", 1000, T0 + 2 * DAY)))
    assert u["attr_days"].to_list() == [1.5]
    assert u["days_to_pay"].to_list() == [2.0]
