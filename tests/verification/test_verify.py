"""Authenticity verification: genuine, wrong code, wrong phone, expired, rate limited — and wrong inputs that
cannot be told apart, by body or by the work done."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import event

from dunning.services.context import AppContext
from dunning.services.verification.lookup import verify_message
from dunning.testing import FrozenClock
from tests.verification.helpers import deliver_with_code

PHONE = "+8613800000007"


@pytest.fixture
def sent_code(ctx: AppContext) -> str:
    return deliver_with_code(ctx)[0]


def test_genuine_code_says_who_and_when_and_nothing_of_the_debt(ctx: AppContext, sent_code: str) -> None:
    a = verify_message(ctx, "138 0000 0007", sent_code.lower(), ip="1.1.1.1")
    assert a.result == "genuine"
    assert a.sent_on == "2026-11-23"
    assert "阳光消费金融" in a.message_zh and "95000" in a.message_zh
    body = str(a.to_dict())
    for secret_detail in ("张", "1,000.00", "1000", "M1", "L"):
        assert secret_detail not in body.replace("Use the official app", "")


def test_wrong_code_wrong_phone_and_garbage_get_the_same_answer(ctx: AppContext, sent_code: str) -> None:
    wrong_code = verify_message(ctx, PHONE, "ABCDEF" if sent_code != "ABCDEF" else "ABCDEG", ip="1.1.1.2")
    wrong_phone = verify_message(ctx, "+8613800000008", sent_code, ip="1.1.1.3")
    garbage = verify_message(ctx, "not a phone", "??", ip="1.1.1.4")
    assert wrong_code.result == "not_found"
    assert wrong_code.to_dict() == wrong_phone.to_dict() == garbage.to_dict()
    assert "不要付款" in wrong_code.message_zh and "95000" in wrong_code.message_zh


def test_expired_code_is_not_confirmed(ctx: AppContext, sent_code: str, clock: FrozenClock) -> None:
    clock.advance(days=ctx.settings.verify_code_ttl_days + 1)
    a = verify_message(ctx, PHONE, sent_code, ip="1.1.1.5")
    wrong = verify_message(ctx, PHONE, "ZZZZZZ", ip="1.1.1.6")
    assert a.result == "not_found" and a.to_dict() == wrong.to_dict()


def test_rate_limits_per_phone_and_per_ip(ctx: AppContext, sent_code: str, clock: FrozenClock) -> None:
    for i in range(ctx.settings.verify_max_per_phone):
        verify_message(ctx, PHONE, "ZZZZZZ", ip=f"2.2.2.{i}")
    # wrong tries from elsewhere stop further guessing on this phone...
    assert verify_message(ctx, PHONE, "YYYYYY", ip="2.2.2.98").result == "rate_limited"
    # ...but never the borrower's own genuine check (issue 17.8), and successes are not counted
    for _ in range(ctx.settings.verify_max_per_phone + 1):
        assert verify_message(ctx, PHONE, sent_code, ip="2.2.2.99").result == "genuine"
    for i in range(ctx.settings.verify_max_per_ip):
        verify_message(ctx, f"+86139000000{i:02d}", "ZZZZZZ", ip="3.3.3.3")
    assert verify_message(ctx, "+8613900000099", "ZZZZZZ", ip="3.3.3.3").result == "rate_limited"
    clock.advance(minutes=ctx.settings.verify_window_minutes)
    assert verify_message(ctx, PHONE, sent_code, ip="2.2.2.99").result == "genuine"


def test_wrong_phone_and_wrong_code_do_the_same_work_and_take_the_same_time(ctx: AppContext, sent_code: str) -> None:
    ctx.settings.verify_max_per_ip = ctx.settings.verify_max_per_phone = 10**6
    statements: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(ctx.db.engine, "before_cursor_execute", capture)
    verify_message(ctx, PHONE, "ZZZZZZ", ip="4.4.4.4")
    first = list(statements)
    statements.clear()
    verify_message(ctx, "+8613800000999", sent_code, ip="4.4.4.4")
    event.remove(ctx.db.engine, "before_cursor_execute", capture)
    assert first == statements

    times: dict[str, list[float]] = {"phone": [], "code": []}
    for _ in range(60):
        for kind, (p, c) in (("phone", ("+8613800000999", sent_code)), ("code", (PHONE, "ZZZZZZ"))):
            t = time.perf_counter()
            verify_message(ctx, p, c, ip="5.5.5.5")
            times[kind].append(time.perf_counter() - t)
    a, b = statistics.median(times["phone"]), statistics.median(times["code"])
    assert max(a, b) / min(a, b) < 1.5, (a, b)
    assert timedelta(seconds=a) < timedelta(seconds=1)
