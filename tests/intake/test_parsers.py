"""Every accepted spelling of phones, amounts, dates and rates, every rejection, and properties over any text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.intake import REJECT_CODES, REJECT_MESSAGES_EN, REJECT_MESSAGES_ZH, parsers
from dunning.intake.exprs import amount_fen_expr, date_expr, int_expr, phone_check_expr, phone_expr, rate_expr

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def phones(values: Sequence[str | None], **kw: bool) -> list[tuple[str | None, str | None]]:
    out = parsers.parse_phones(pl.Series(values, dtype=pl.Utf8), **kw)
    return list(zip(out["phone"].to_list(), out["reject"].to_list(), strict=True))


# ------------------------------------------------------------------------------------------------- phones

MOBILE_SPELLINGS = [
    "13812348000", "138 1234 8000", "138-1234-8000", "138.1234.8000", " 13812348000 ", "+8613812348000",
    "+86 138 1234 8000", "+86-138-1234-8000", "(+86) 138-1234-8000", "86 13812348000", "8613812348000",
    "0086 13812348000", "0086-138-1234-8000", "013812348000", "１３８１２３４８０００", "＋８６ １３８ １２３４ ８０００",
    "138－1234－8000", "13812348000.0", "[+86]13812348000", "138\u30001234\u30008000",
]


@pytest.mark.parametrize("spelling", MOBILE_SPELLINGS)
def test_every_mobile_spelling_becomes_the_same_e164(spelling: str) -> None:
    assert phones([spelling]) == [("+8613812348000", None)]


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("010-62345678", "+861062345678"),
        ("(010) 6234 5678", "+861062345678"),
        ("0755-12345678", "+8675512345678"),
        ("+86 10 6234 5678", "+861062345678"),
        ("021 6234 5678", "+862162345678"),
        ("400-800-1234", "+864008001234"),
        ("800-810-1234", "+868008101234"),
    ],
)
def test_landlines_and_service_numbers_are_real_but_not_mobile(text: str, e164: str) -> None:
    assert phones([text]) == [(e164, "not_mobile")]


@pytest.mark.parametrize(
    "text",
    ["12345", "1381234800", "138123480001", "12812348000", "abc", "13812348OOO", "+86 138 1234 800",
     "1.3812348E+10", "13812348000/13912345678", "138 1234 8000 转 2", "0", "95588", "+", "--", "12345678"],
)
def test_anything_else_is_invalid_phone(text: str) -> None:
    assert phones([text]) == [(None, "invalid_phone")]


@pytest.mark.parametrize("text", ["", "   ", "\u3000", None])
def test_blank_phone_is_a_missing_field(text: str | None) -> None:
    assert phones([text]) == [(None, "missing_field")]


def test_international_mobiles_only_when_the_policy_allows() -> None:
    numbers = ["+1 415 555 2671", "+44 7911 123456", "00852 9123 4567", "+44 20 7946 0958"]
    assert [r for _, r in phones(numbers)] == ["invalid_phone", "invalid_phone", "invalid_phone", "not_mobile"]
    assert phones(numbers, allow_international=True) == [
        ("+14155552671", None), ("+447911123456", None), ("+85291234567", None), ("+442079460958", "not_mobile"),
    ]


def test_phone_expressions_work_on_frames() -> None:
    df = pl.DataFrame({"手机": ["138 1234 8000", "010-62345678", "x"]})
    out = df.select(phone_expr("手机").alias("e164"), phone_check_expr("手机").alias("check"))
    assert out["e164"].to_list() == ["+8613812348000", None, None]
    assert out["check"].struct.field("reject").to_list() == [None, "not_mobile", "invalid_phone"]


def _reference(text: str) -> tuple[str | None, str | None]:
    """phonenumbers' own answer, number by number (the slow path), the oracle for the vectorised classification."""
    return parsers.classify_phone(text, allow_international=False)


digit_strings = st.text(alphabet="0123456789", min_size=5, max_size=13)
prefixes = st.sampled_from(["", "", "0", "+86", "86", "860", "0086", "+860", "010", "0755", "1", "13", "400", "950",
                            "12593", "17951", "1795100", "179510086", "1259300852", "+1", "+44", "00852"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(prefixes, digit_strings), min_size=1, max_size=40))
def test_vectorised_classification_agrees_with_phonenumbers(parts: list[tuple[str, str]]) -> None:
    texts = [p + d for p, d in parts]
    assert phones(texts) == [_reference(t) for t in texts]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=30), st.booleans())
def test_any_text_gives_a_phone_or_a_reject_code(values: list[str | None], allow: bool) -> None:
    out = phones(values, allow_international=allow)
    assert len(out) == len(values)
    for phone, reject in out:
        assert reject is None or reject in REJECT_CODES
        assert phone is None or E164.match(phone)
        assert reject is not None or phone is not None


# ------------------------------------------------------------------------------------------------ amounts

AMOUNTS = [
    ("1234.5", 123450), ("1234.50", 123450), ("1,234.50", 123450), ("¥1,234.50", 123450), ("￥1234.5", 123450),
    ("¥ 1234.5", 123450), ("1234.50元", 123450), ("1234元", 123400), ("RMB 1,234.50", 123450),
    ("人民币1234.5元", 123450), ("CNY1234.5", 123450), ("１，２３４．５０", 123450), ("  800 ", 80000), ("800.", 80000),
    (".5", 50), ("0.01", 1), ("1.2万", 1_200_000), ("1.2万元", 1_200_000), ("1234.567", 123457),
    ("1234.565", 123457), ("1234.564", 123456), ("+1234.5", 123450), ("99999999.99", 9_999_999_999),
]


@pytest.mark.parametrize(("text", "fen"), AMOUNTS)
def test_every_amount_spelling_is_exact_fen(text: str, fen: int) -> None:
    got = parsers.parse_amounts(pl.Series([text]))
    assert got.dtype == pl.Int64
    assert got.to_list() == [fen]
    assert parsers.amount_reject(got).to_list() == [None]


@pytest.mark.parametrize("text", ["-5", "-0.5", "(1,234.00)", "abc", "1e3", "1.2.3", "--5", "待定", "", "¥", "inf",
                                  "NaN", "12345678901234567890"])
def test_negative_or_unparseable_amounts_are_invalid(text: str) -> None:
    assert parsers.amount_reject(parsers.parse_amounts(pl.Series([text]))).to_list() == ["invalid_amount"]


@pytest.mark.parametrize("text", ["0", "0.00", "¥0", "0元", "0.001"])
def test_zero_amounts_mean_nothing_due(text: str) -> None:
    fen = parsers.parse_amounts(pl.Series([text]))
    assert fen.to_list() == [0]
    assert parsers.amount_reject(fen).to_list() == ["nothing_due"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=25),
                          st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str)), max_size=30))
def test_any_text_gives_fen_or_a_reject_code(values: list[str | None]) -> None:
    fen = parsers.parse_amounts(pl.Series(values, dtype=pl.Utf8))
    codes = parsers.amount_reject(fen).to_list()
    assert len(codes) == len(values)
    for f, code in zip(fen.to_list(), codes, strict=True):
        assert (code is None and f > 0) or code in ("invalid_amount", "nothing_due")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**14))
def test_plain_and_decorated_amounts_round_trip(fen: int) -> None:
    yuan = f"{fen // 100}.{fen % 100:02d}"
    grouped = f"¥{fen // 100:,}.{fen % 100:02d}元"
    assert parsers.parse_amounts(pl.Series([yuan, grouped])).to_list() == [fen, fen]


# -------------------------------------------------------------------------------------------------- dates

DATE_SPELLINGS = [
    "2026-09-30", "2026-9-30", "2026/9/30", "2026/09/30", "2026年9月30日", "2026年09月30日", "2026 年 9 月 30 日",
    "20260930", "2026.09.30", "2026.9.30", "2026-09-30 00:00:00", "2026/9/30 0:00", "2026-09-30T00:00:00",
    "2026-09-30 00:00:00.000000", "２０２６－０９－３０", " 2026-09-30 ", "2026年9月30号",
]


@pytest.mark.parametrize("text", DATE_SPELLINGS)
def test_every_date_spelling(text: str) -> None:
    assert parsers.parse_dates(pl.Series([text])).to_list() == [date(2026, 9, 30)]


@pytest.mark.parametrize("text", ["2026-02-30", "2026-02-29", "2026-13-01", "2026-00-10", "20261301", "30/09/2026",
                                  "abc", "0226-09-30", "2026-09", "9/30", "", "46295"])
def test_impossible_or_unreadable_dates_are_null(text: str) -> None:
    assert parsers.parse_dates(pl.Series([text])).to_list() == [None]


def test_leap_day_is_a_real_date() -> None:
    assert parsers.parse_dates(pl.Series(["2028-02-29"])).to_list() == [date(2028, 2, 29)]


def test_excel_serials_become_dates_only_through_the_excel_path() -> None:
    converted = parsers.excel_serial_to_iso(pl.Series(["46295", "46295.75", "2026-09-30", "123", None]))
    assert converted.to_list() == ["2026-09-30", "2026-09-30", "2026-09-30", "123", None]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=25), st.dates().map(str)), max_size=30))
def test_any_text_gives_a_plausible_date_or_null(values: list[str | None]) -> None:
    out = parsers.parse_dates(pl.Series(values, dtype=pl.Utf8)).to_list()
    assert len(out) == len(values)
    assert all(d is None or date(1950, 1, 1) <= d <= date(2100, 12, 31) for d in out)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)))
def test_any_real_date_round_trips_in_every_style(d: date) -> None:
    styles = [d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日", d.strftime("%Y%m%d"),
              d.strftime("%Y.%m.%d")]
    assert parsers.parse_dates(pl.Series(styles)).to_list() == [d] * len(styles)


# -------------------------------------------------------------------------------------------------- rates

RATES = ["0.05%", "0.0005", "0.5‰", "万分之5", "日0.05%", "0.05 %", "０.０５％", "每日0.05%", "0.05%/日", " 0.0005 "]


@pytest.mark.parametrize("text", RATES)
def test_every_rate_spelling_is_the_same_daily_fraction(text: str) -> None:
    assert parsers.parse_rates(pl.Series([text])).to_list() == [0.0005]


@pytest.mark.parametrize("text", ["", "abc", "-0.05%", "5%%", None])
def test_unreadable_rates_are_null(text: str | None) -> None:
    assert parsers.parse_rates(pl.Series([text], dtype=pl.Utf8)).to_list() == [None]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=30))
def test_any_text_gives_a_non_negative_rate_or_null(values: list[str | None]) -> None:
    out = parsers.parse_rates(pl.Series(values, dtype=pl.Utf8)).to_list()
    assert all(r is None or r >= 0 for r in out)


# --------------------------------------------------------------------------------------------- small ints

def test_counts_and_paydays() -> None:
    assert parsers.parse_ints(pl.Series(["3", "3次", "15日", "每月15号", "3.0", "x", None, "-1", "１２"])).to_list() == [
        3, 3, 15, 15, 3, None, None, None, 12]
    paydays = parsers.parse_paydays(pl.Series(["1", "31", "32", "0", "15日", ""]))
    assert paydays.to_list() == [1, 31, None, None, 15, None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30))
def test_any_text_gives_a_payday_in_range_or_null(values: list[str | None]) -> None:
    assert all(p is None or 1 <= p <= 31 for p in parsers.parse_paydays(pl.Series(values, dtype=pl.Utf8)).to_list())


def test_expression_builders_agree_with_the_series_parsers() -> None:
    df = pl.DataFrame({"a": ["¥1,234.50", "0.05%", "2026/9/30", "3次"]})
    out = df.select(amount_fen_expr("a").alias("fen"), rate_expr("a").alias("rate"), date_expr("a").alias("due"),
                    int_expr("a").alias("n"))
    assert out["fen"].to_list()[0] == 123450
    assert out["rate"].to_list()[1] == 0.0005
    assert out["due"].to_list()[2] == date(2026, 9, 30)
    assert out["n"].to_list()[3] == 3


def test_every_code_has_a_message_in_both_languages() -> None:
    assert set(REJECT_MESSAGES_ZH) == set(REJECT_MESSAGES_EN) == set(REJECT_CODES)
    assert len(REJECT_CODES) == 9
