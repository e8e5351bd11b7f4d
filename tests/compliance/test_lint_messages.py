"""The vectorised lint of rendered messages finds exactly what the one-text lint finds, row by row."""

from __future__ import annotations

import random

import polars as pl
import pytest

from dunning.compliance import FINDINGS_SCHEMA, Policy, lint_messages, lint_text

from .test_rules import CASES, CN_OK, US_OK

CN_FRAGMENTS = [
    "【阳光消费金融】", "【别的】", "张*您好，", "您尾号1234的借款1,234.50元", "已逾期5天", "8月31日到期", "客服95000",
    "客服95555", "950008", "请致电13812345678", "访问 www.abc.com", "http://t.cn/x", "请回复验证码", "请勿提供验证码",
    "我司不会要求向个人账户转账", "请转到个人账户", "律师函", "上门", "催收", "每日罚息0.05%", "每日2%的逾期罚息",
    "收取2%的罚息", "年化利率36%", "！", "退订回T", "【】", "扫码还款", "★", "。", "，", "万分之五", "可致电核实",
]
US_FRAGMENTS = [
    "Sunshine Finance: ", "Your payment of $1,234.50 ", "is due on 8/31. ", "is 5 days past due. ", "call 800-555-0100",
    "call 800-555-0199", "Reply STOP to stop texts to this number.", "We will sue. ", "issue ", "arrest ",
    "https://sunshine.example.com/pay ", "www.evil.net ", "reply with your PIN ", "never share your password ",
    "late fee of 2% per day ", "0.05% per day penalty ", "!", "Zelle ", "a" * 40,
]


def _expected(texts: list[str | None], penalties: list[float | None], policy: Policy) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for i, (t, p) in enumerate(zip(texts, penalties, strict=True)):
        out.extend((i, f.rule, f.severity, f.start, f.end, f.message_zh, f.message_en)
                   for f in lint_text(t or "", policy, p))
    return sorted(out)


@pytest.mark.parametrize("profile", ["CN", "US"])
def test_vectorised_equals_one_by_one_on_random_texts(profile: str, cn: Policy, us: Policy) -> None:
    policy, fragments = (cn, CN_FRAGMENTS) if profile == "CN" else (us, US_FRAGMENTS)
    rng = random.Random(20261123)
    texts: list[str | None] = ["".join(rng.choice(fragments) for _ in range(rng.randint(1, 9))) for _ in range(1500)]
    texts += [None, ""]
    penalties = [rng.choice([None, 0.0005, 0.0002]) for _ in texts]
    frame = pl.DataFrame({"text": texts, "penalty_rate": penalties})
    got = sorted(lint_messages(frame, policy).iter_rows())
    assert got == _expected(texts, penalties, policy)
    assert len({r[1] for r in got}) >= 12  # the random texts exercise most rules


def test_vectorised_equals_one_by_one_on_the_rule_table(cn: Policy, us: Policy) -> None:
    for profile, policy in (("CN", cn), ("US", us)):
        rows = [(t, p) for _r, prof, t, p, _trips in CASES if prof == profile]
        texts, penalties = [t for t, _ in rows], [p for _, p in rows]
        got = sorted(lint_messages(pl.DataFrame({"text": texts, "penalty_rate": penalties}), policy).iter_rows())
        assert got == _expected(list(texts), penalties, policy)


def test_clean_messages_give_an_empty_typed_frame(cn: Policy) -> None:
    out = lint_messages(pl.DataFrame({"text": [CN_OK] * 50, "penalty_rate": [0.0005] * 50}), cn)
    assert out.height == 0
    assert dict(out.schema) == FINDINGS_SCHEMA
    assert dict(lint_messages(pl.DataFrame({"text": []}, schema={"text": pl.Utf8}), cn).schema) == FINDINGS_SCHEMA


def test_row_points_into_the_frame_and_other_columns_are_ignored(cn: Policy) -> None:
    bad = CN_OK.replace("请在", "否则上门处理，请在")
    frame = pl.DataFrame({"loan_id": ["a", "b", "c"], "body": [CN_OK, bad, CN_OK]})
    out = lint_messages(frame, cn, text_col="body", penalty_col=None)
    assert out["row"].dtype == pl.UInt32
    assert out.select("row", "rule").rows() == [(1, "lexicon.threat")]
    start, end = out.row(0, named=True)["start"], out.row(0, named=True)["end"]
    assert bad[start:end] == "否则上门"  # the whole structure: consequence, then harm


def test_contract_rate_comes_from_the_penalty_column(cn: Policy) -> None:
    text = CN_OK.replace("请在", "按合同每日罚息0.05%，请在")
    frame = pl.DataFrame({"text": [text, text, text], "rate": [0.0005, 0.0003, None]})
    out = lint_messages(frame, cn, penalty_col="rate")
    assert out.filter(pl.col("rule") == "penalty.excessive")["row"].to_list() == [1]


def test_us_length_is_gsm7_aware(us: Policy) -> None:
    gsm = US_OK + " " * (160 - len(US_OK))          # 160 GSM-7 characters: one part
    ucs = US_OK.replace("Pay", "Pаy") + " " * (160 - len(US_OK))  # a Cyrillic а forces UCS-2: 3 parts
    out = lint_messages(pl.DataFrame({"text": [gsm, ucs]}), us)
    segs = out.filter(pl.col("rule") == "length.segments")
    assert segs["row"].to_list() == [1]
    assert segs["severity"].to_list() == ["block"]
