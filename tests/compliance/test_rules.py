"""Each rule, table-driven: texts that must trip it and texts that must not (Chinese and English)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dunning.compliance import RULES, Policy, lint_text

CN_OK = ("【阳光消费金融】张*您好，您尾号1234的借款1,234.50元将于8月31日到期，请在阳光消费金融App还款。客服95000。"
         "验证码K7M2QX，可在官网或致电客服核实，我司不会要求向个人账户转账。")
US_OK = ("Sunshine Finance: your payment of $1,234.50 is due on 8/31. Pay in the Sunshine app or call 800-555-0100. "
         "Reply STOP to stop texts to this number.")


def cn_with(old: str, new: str) -> str:
    assert old in CN_OK
    return CN_OK.replace(old, new)


def us_with(old: str, new: str) -> str:
    assert old in US_OK
    return US_OK.replace(old, new)


def _case(c: dict[str, Any]) -> tuple[str, str, str, float | None, bool]:
    """One case of ``rule_cases.yaml`` as (rule, profile, text, penalty, trips?)."""
    edit = cn_with if c["profile"] == "CN" else us_with
    text = edit(*c["with"]) if "with" in c else edit("", "")
    return c["rule"], c["profile"], text + c.get("append", ""), c.get("penalty"), c["trips"]


# (rule, profile, text, penalty, trips?): the table beside this file, and the cases whose text is computed
CASES: list[tuple[str, str, str, float | None, bool]] = [
    *map(_case, yaml.safe_load(Path(__file__).with_name("rule_cases.yaml").read_text(encoding="utf-8"))),
    ("signature.missing", "CN", "【】" + CN_OK.removeprefix("【阳光消费金融】"), None, True),
    ("length.segments", "CN", CN_OK + "请" * (135 - len(CN_OK)), None, True),  # 3 parts
    ("length.segments", "CN", CN_OK + "请" * (134 - len(CN_OK)), None, False),
    ("length.segments", "US", us_with("Pay in", "Please " * 3 + "pay in"), None, True),
]


def test_clean_bases_have_no_findings(cn: Policy, us: Policy) -> None:
    assert lint_text(CN_OK, cn) == []
    assert lint_text(US_OK, us) == []


@pytest.mark.parametrize(("rule", "profile", "text", "penalty", "trips"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{'trips' if c[4] else 'passes'}-{i}" for i, c in enumerate(CASES)])
def test_rule(rule: str, profile: str, text: str, penalty: float | None, trips: bool, cn: Policy,
              us: Policy) -> None:
    findings = lint_text(text, cn if profile == "CN" else us, penalty)
    hits = [f for f in findings if f.rule == rule]
    assert bool(hits) == trips, [(f.rule, text[f.start:f.end], f.message_zh) for f in findings]
    for f in hits:  # every finding says what to fix, in Chinese and English, on a span inside the text
        assert 0 <= f.start <= f.end <= len(text)
        assert f.message_zh and f.message_en
        assert f.severity in ("block", "warn")


def test_every_message_rule_has_a_failing_case() -> None:
    tripped = {c[0] for c in CASES if c[4]}
    message_rules = {r for r in RULES if not r.startswith("template.")}
    assert message_rules <= tripped, sorted(message_rules - tripped)


@pytest.mark.parametrize(("text", "span"), [
    (cn_with("请在", "否则上门处理，请在"), "否则上门"),
    (cn_with("客服95000", "客服95000或13812345678"), "13812345678"),
    (cn_with("请在", "逾期将按合同收取每日2%的逾期罚息，请在"), "2%"),
    (cn_with("您好，", "您好，【重要】"), "【"),
])
def test_spans_point_at_the_offending_text(text: str, span: str, cn: Policy) -> None:
    spans = [text[f.start:f.end] for f in lint_text(text, cn, None) if f.severity == "block"]
    assert span in spans


def test_severities(cn: Policy) -> None:
    def sev(text: str, rule: str, penalty: float | None = None) -> str:
        return next(f.severity for f in lint_text(text, cn, penalty) if f.rule == rule)

    assert sev(cn_with("到期，", "到期！"), "tone.exclamation") == "warn"
    assert sev(cn_with("您好，", "您好★"), "content.symbol") == "warn"
    assert sev(cn_with("请在", "逾期将收取2%的罚息，请在"), "penalty.excessive") == "warn"
    assert sev(cn_with("请在", "逾期将收取2%的罚息，请在"), "penalty.excessive", 0.0005) == "block"
    assert sev(cn_with("请在", "每日2%的逾期罚息，请在"), "penalty.excessive") == "block"
    assert sev(CN_OK + "请" * (135 - len(CN_OK)), "length.segments") == "warn"   # 3 parts
    assert sev(CN_OK + "请" * (202 - len(CN_OK)), "length.segments") == "block"  # 4 parts
    assert sev(CN_OK + "请" * (501 - len(CN_OK)), "length.segments") == "block"  # over 500


def test_company_lexicon_overlay_and_exemptions() -> None:
    from dunning.compliance import load_policy

    from .conftest import CN_IDENTITY

    p = load_policy("CN", {**CN_IDENTITY, "lexicon": {"lexicon.threat": ["最后通牒"]}, "lexicon_exempt": ["人身保险"]})
    assert any(f.rule == "lexicon.threat" for f in lint_text(cn_with("请在", "最后通牒，请在"), p))
    assert not any(f.rule.startswith("lexicon.") for f in lint_text(cn_with("请在", "含人身保险，请在"), p))
    assert any(f.rule == "lexicon.threat" for f in lint_text(cn_with("请在", "注意人身安全，请在"), p))
