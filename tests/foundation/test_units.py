from __future__ import annotations

import polars as pl
import pytest

from dunning.domain.buckets import bucket_expr, bucket_of
from dunning.domain.masking import mask_name, mask_phone
from dunning.domain.money import format_yuan, yuan_expr
from dunning.domain.replies import classify_reply
from dunning.errors import InputError
from dunning.services.verification.codes import ALPHABET, code_for, stored_hash
from dunning.strategy import parse_strategy

STOP = ["TD", "T", "N", "R", "退订", "拒收", "停止", "别发了", "不要再发"]
DISPUTE = ["不是本人", "打错", "不认识", "已还款", "投诉"]


@pytest.mark.parametrize(("dpd", "bucket"), [(-3, "C"), (0, "C"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"),
                                             (61, "M3"), (90, "M3"), (91, "M4+"), (400, "M4+")])
def test_buckets(dpd: int, bucket: str) -> None:
    assert bucket_of(dpd) == bucket
    assert pl.DataFrame({"d": [dpd]}).select(bucket_expr("d")).item() == bucket


@pytest.mark.parametrize(("fen", "text"), [(0, "0.00元"), (5, "0.05元"), (123450, "1,234.50元"),
                                           (100000000, "1,000,000.00元")])
def test_money(fen: int, text: str) -> None:
    assert format_yuan(fen) == text
    assert pl.DataFrame({"a": [fen]}).select(yuan_expr("a")).item() == text


def test_masking() -> None:
    assert mask_phone("+8613812348000") == "138****8000"
    assert mask_name("张三丰") == "张*"
    assert mask_name("") == "客户"


@pytest.mark.parametrize(("text", "kind"), [
    ("TD", "opt_out"), ("td", "opt_out"), ("退订", "opt_out"), ("请不要再发了", "opt_out"), ("t", "opt_out"),
    ("不是本人", "dispute"), ("你们打错了", "dispute"), ("我已还款了", "dispute"), ("我要投诉", "dispute"),
    ("好的，明天还", "promise"), ("发工资就还", "promise"),
    ("收到", "other"), ("That is fine", "other"),
])
def test_reply_classification(text: str, kind: str) -> None:
    assert classify_reply(text, STOP, DISPUTE) == kind


def test_verification_codes_are_keyed_and_unambiguous() -> None:
    a = code_for(b"k1", "c1|L1|M1")
    assert len(a) == 6 and set(a) <= set(ALPHABET)
    assert code_for(b"k1", "c1|L1|M1") == a
    assert code_for(b"k2", "c1|L1|M1") != a
    assert stored_hash(b"k1", "+8613800000000", a) != stored_hash(b"k1", "+8613800000001", a)


# The champion/challenger split and first-match segments are tested in tests/strategy/test_cadence.py.


def test_strategy_errors_say_where() -> None:
    with pytest.raises(InputError) as e:
        parse_strategy("name: x\nsegments:\n  - {name: a, when: {bucket: [M9]}, steps: [{dpd: [1], template: t}]}\n")
    assert "M9" in e.value.message_zh and "segments.0.when.bucket" in e.value.message_zh
    with pytest.raises(InputError) as e:
        parse_strategy("name: x\nsegments:\n  - {name: a, steps: [{template: t}]}\n")
    assert e.value.code == "strategy.invalid"
    assert "segments.0.steps.0" in e.value.message_zh and "dpd" in e.value.message_zh
