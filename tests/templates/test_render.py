"""Rendering: one Polars expression per template; the declared type picks the formatter."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.money import format_yuan
from dunning.templates import (
    TEXT_MAX,
    compile_template,
    format_rate,
    load_bundled_templates,
    money_expr,
    rate_expr,
    render,
    render_many,
)

CTX = {"institution": "阳光消费金融", "signature": "阳光消费金融", "hotline": "95000", "app": "阳光消费金融App",
       "domain": "sunshine-cfc.example.cn"}


def accounts(**cols: list[object]) -> pl.DataFrame:
    base: dict[str, list[object]] = {
        "loan_id": ["L000012345"], "name": ["张三丰"], "amount_due_fen": [123_450], "due_date": [date(2026, 8, 31)],
        "penalty_rate": [0.0005], "dpd": [12], "product": ["消费贷"], "verify_code": ["K7M2QX"],
        "agency": ["华信商务咨询"], "staff": ["张伟、李娜"], "reg_no": ["REG-20261205-K7M2QX"],
        "visit_date": ["12月5日14:00"],
    }
    base.update(cols)
    n = max(len(v) for v in base.values())
    return pl.DataFrame({k: (v * n if len(v) == 1 else v) for k, v in base.items()}, schema={
        "loan_id": pl.Utf8, "name": pl.Utf8, "amount_due_fen": pl.Int64, "due_date": pl.Date,
        "penalty_rate": pl.Float64, "dpd": pl.Int32, "product": pl.Utf8, "verify_code": pl.Utf8,
        "agency": pl.Utf8, "staff": pl.Utf8, "reg_no": pl.Utf8, "visit_date": pl.Utf8})


def one(text: str, variables: dict[str, str], frame: pl.DataFrame, ctx: dict[str, str] | None = None) -> list[str]:
    return render(frame, compile_template(text, variables), CTX if ctx is None else ctx).to_list()


def test_signature_is_prefixed_by_render() -> None:
    assert one("${name}您好", {"name": "masked_name"}, accounts()) == ["【阳光消费金融】张*您好"]
    no_sig = {k: v for k, v in CTX.items() if k != "signature"}
    assert one("${name}您好", {"name": "masked_name"}, accounts(), no_sig) == ["张*您好"]


@pytest.mark.parametrize(("fen", "shown"), [
    (0, "0.00元"), (1, "0.01元"), (100, "1.00元"), (123_450, "1,234.50元"), (99_999_999, "999,999.99元"),
    (100_000_000, "1,000,000.00元"), (123_456_789_012, "1,234,567,890.12元"), (-5_050, "-50.50元"),
])
def test_money(fen: int, shown: str) -> None:
    assert one("应还${amount}", {"amount": "money"}, accounts(amount_due_fen=[fen])) == [f"【阳光消费金融】应还{shown}"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-10**13, max_value=10**13), min_size=1, max_size=50))
def test_money_expr_matches_format_yuan(values: list[int]) -> None:
    got = pl.DataFrame({"f": values}).select(money_expr("f")).to_series().to_list()
    assert got == [format_yuan(v) for v in values]


@pytest.mark.parametrize(("rate", "shown"), [
    (0.0005, "0.05%"), (0.00055, "0.055%"), (0.0003, "0.03%"), (0.01, "1%"), (0.000657, "0.0657%"), (0.0, "0%"),
])
def test_rate(rate: float, shown: str) -> None:
    assert format_rate(rate) == shown
    assert pl.DataFrame({"r": [rate]}).select(rate_expr("r")).item() == shown


def test_each_type() -> None:
    frame = accounts(name=["欧阳娜娜", None, "  "], loan_id=["L000012345", "AB-99", "X"], dpd=[12, 0, 400])
    variables = {"name": "masked_name", "last4": "last4", "due_date": "date", "dpd": "integer",
                 "penalty_rate": "rate", "product": "text"}
    out = one("${name}|${last4}|${due_date}|${dpd}|${penalty_rate}|${product}", variables, frame)
    assert out == ["【阳光消费金融】欧*|2345|8月31日|12|0.05%|消费贷",
                   "【阳光消费金融】客户|B-99|8月31日|0|0.05%|消费贷",
                   "【阳光消费金融】客户|X|8月31日|400|0.05%|消费贷"]
    assert one("${due_date}", {"due_date": "date:iso"}, accounts()) == ["【阳光消费金融】2026-08-31"]
    assert one("还有${days_to_due}天", {"days_to_due": "integer"}, accounts(dpd=[-3])) == ["【阳光消费金融】还有3天"]


def test_text_values_are_bounded_and_never_urls() -> None:
    frame = accounts(product=["超长的产品名称" * 5, "www.evil.cn", "https://x.y/z", None])
    out = one("产品${product}。", {"product": "text"}, frame)
    assert out[0] == "【阳光消费金融】产品" + ("超长的产品名称" * 5)[:TEXT_MAX] + "。"
    assert out[1:] == ["【阳光消费金融】产品。"] * 3


def test_context_values_are_constants() -> None:
    out = one("${institution}：请在${app}还款，客服${hotline}", {"institution": "text", "app": "text", "hotline": "text"},
              accounts(loan_id=["a", "b"]))
    assert out == ["【阳光消费金融】阳光消费金融：请在阳光消费金融App还款，客服95000"] * 2


def test_null_values_render_empty_so_lint_sees_the_gap() -> None:
    out = one("应还${amount}，罚息${penalty_rate}", {"amount": "money", "penalty_rate": "rate"},
              accounts(amount_due_fen=[None], penalty_rate=[None]))
    assert out == ["【阳光消费金融】应还，罚息"]


def test_render_many_keeps_row_order() -> None:
    specs = {s.id: s for s in load_bundled_templates()}
    compiled = {k: compile_template(specs[k].text, specs[k].variables) for k in ("M1", "pre_due_3")}
    frame = accounts(loan_id=["L1", "L2", "L3", "L4"]).with_columns(
        pl.Series("template", ["M1", None, "pre_due_3", "M1"]))
    out = render_many(frame, compiled, CTX).to_list()
    assert out[1] is None
    assert "已逾期12天" in out[0] and "已逾期12天" in out[3] and "还款日为8月31日" in out[2]


def test_worst_case_length_bounds_every_rendering() -> None:
    frame = accounts(name=["欧阳娜娜", None], amount_due_fen=[99_999_999_999, 1], dpd=[9999, 1],
                     penalty_rate=[0.0005, 0.0003], due_date=[date(2026, 12, 31), date(2026, 1, 1)],
                     verify_code=["ZZZZZZ", "A"], agency=["X" * 30, "A"], staff=["X" * 30, "A"],
                     reg_no=["R" * 30, "A"], visit_date=["12月31日23:59", "1月1日08:00"])
    for spec in load_bundled_templates():
        c = compile_template(spec.text, spec.variables)
        lengths = render(frame, c, CTX).str.len_chars().to_list()
        assert max(lengths) <= c.worst_case_length(CTX), spec.id
