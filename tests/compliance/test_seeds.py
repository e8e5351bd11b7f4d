"""The example messages of the seed articles (/work/shared/seeds), run through the linter.

The articles show how Chinese consumer-finance reminders are commonly written; none of their examples could be
sent as they stand. This test documents which rules each one trips under the CN profile and the default identity
(阳光消费金融 / 95000). The examples are quoted verbatim; when the seed files are present, that is checked too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dunning.compliance import Policy, lint_text

SEEDS = Path("/work/shared/seeds")
BASE_MISSING = {"signature.missing", "required.contact", "required.anti_fraud"}

# (seed file, example, rules tripped)
EXAMPLES: list[tuple[str, str, set[str]]] = [
    # "每日2%的逾期罚息" is 730 % a year: far above the ~24 % line.
    ("000_4314dc65ba6dc2e4.txt",
     "亲爱的客户,依据咱们的记录,您有剩余欠款人民币10000元,截止日期为2022年8月31日。如逾期未还,将依照合同协定收取每日2%的逾期罚息。",
     BASE_MISSING | {"penalty.excessive"}),
    # "2%的逾期罚息" without a period (per day? once?) cannot be checked: a warning.
    ("000_4314dc65ba6dc2e4.txt",
     "尊敬的借款人,您有10000元剩余欠款需要在8月31日前还清。逾期将收取2%的逾期罚息。",
     BASE_MISSING | {"penalty.excessive"}),
    ("000_4314dc65ba6dc2e4.txt",
     "亲爱的客户,按照咱们的记录您仍有10000元剩余欠款待还。请您尽快偿还以免作用信用记录。如需要帮助,请随时联系咱们。",
     BASE_MISSING | {"required.due"}),
    ("000_4314dc65ba6dc2e4.txt",
     "如有任何疑问或需要帮助,请致电客服热线XXX-XXXX,我们将竭诚为您提供服务。",
     BASE_MISSING | {"required.amount", "required.due"}),
    ("004_4c0bf49f74060b17.txt",
     "尊敬的客户您好,您的账户尚有XX元待还,请于X月X日前完成支付。",
     BASE_MISSING | {"required.amount", "required.due"}),
    ("004_4c0bf49f74060b17.txt",
     "感谢您一直以来的支持,期待您早日应对本次欠款。",
     BASE_MISSING | {"required.amount", "required.due"}),
    ("004_4c0bf49f74060b17.txt",
     "如有困难可申请分期付款,请访问熟悉更多详情。",
     BASE_MISSING | {"required.amount", "required.due"}),
    # The article's own name for such messages: a term SMS platforms reject.
    ("004_4c0bf49f74060b17.txt", "阳光消费催款短信",
     BASE_MISSING | {"required.amount", "required.due", "lexicon.platform"}),
]


@pytest.mark.parametrize(("seed", "text", "rules"), EXAMPLES, ids=[f"{s[:3]}-{i}" for i, (s, _t, _r) in
                                                                  enumerate(EXAMPLES)])
def test_seed_example_trips_documented_rules(seed: str, text: str, rules: set[str], cn: Policy) -> None:
    if (SEEDS / seed).exists():
        assert text in (SEEDS / seed).read_text(encoding="utf-8")
    findings = lint_text(text, cn)
    assert {f.rule for f in findings} == rules
    # even with our signature in front, none of them could be sent
    signed = lint_text("【阳光消费金融】" + text, cn)
    assert any(f.severity == "block" for f in signed)


def test_daily_two_percent_is_blocked_as_excessive(cn: Policy) -> None:
    text = EXAMPLES[0][1]
    f = next(f for f in lint_text(text, cn) if f.rule == "penalty.excessive")
    assert f.severity == "block"
    assert text[f.start:f.end] == "2%"
    assert "超过法定上限" in f.message_zh


def test_unstated_period_is_a_warning_unless_the_contract_says_otherwise(cn: Policy) -> None:
    text = EXAMPLES[1][1]
    assert [f.severity for f in lint_text(text, cn) if f.rule == "penalty.excessive"] == ["warn"]
    assert [f.severity for f in lint_text(text, cn, 0.0005) if f.rule == "penalty.excessive"] == ["block"]
