"""Each rule, table-driven: texts that must trip it and texts that must not (Chinese and English)."""

from __future__ import annotations

import pytest

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


# (rule, profile, text, penalty, trips?)
CASES: list[tuple[str, str, str, float | None, bool]] = [
    # signature
    ("signature.missing", "CN", CN_OK.removeprefix("【阳光消费金融】"), None, True),
    ("signature.missing", "CN", "【】" + CN_OK.removeprefix("【阳光消费金融】"), None, True),
    ("signature.missing", "CN", CN_OK, None, False),
    ("signature.missing", "US", us_with("Sunshine Finance: ", ""), None, True),
    ("signature.missing", "US", US_OK, None, False),
    ("signature.unregistered", "CN", cn_with("【阳光消费金融】", "【好运金融】"), None, True),
    ("signature.unregistered", "CN", cn_with("【阳光消费金融】", "【阳】"), None, True),
    ("signature.unregistered", "CN", CN_OK, None, False),
    # required elements
    ("required.amount", "CN", cn_with("借款1,234.50元", "借款"), None, True),
    ("required.amount", "CN", CN_OK, None, False),
    ("required.amount", "US", us_with("of $1,234.50 ", ""), None, True),
    ("required.amount", "US", US_OK, None, False),
    ("required.due", "CN", cn_with("将于8月31日到期", "尚未还清"), None, True),
    ("required.due", "CN", cn_with("将于8月31日到期", "已逾期5天"), None, False),
    ("required.due", "CN", cn_with("将于8月31日到期", "将于2026-08-31到期"), None, False),
    ("required.due", "US", us_with("is due on 8/31", "is outstanding"), None, True),
    ("required.due", "US", us_with("is due on 8/31", "is 5 days past due"), None, False),
    ("required.contact", "CN", cn_with("客服95000。", ""), None, True),
    ("required.contact", "CN", CN_OK, None, False),
    ("required.contact", "US", us_with(" or call 800-555-0100", ""), None, True),
    ("required.contact", "US", us_with("800-555-0100", "8005550100"), None, False),
    ("required.anti_fraud", "CN", cn_with("，可在官网或致电客服核实，我司不会要求向个人账户转账", ""), None, True),
    ("required.anti_fraud", "CN", CN_OK, None, False),
    # lexicons (CN words from the policy; English from the US profile and its extensions)
    ("lexicon.threat", "CN", cn_with("请在", "否则上门处理，请在"), None, True),
    ("lexicon.threat", "US", us_with("Pay in", "Avoid arrest: pay in"), None, True),
    ("lexicon.threat", "US", US_OK, None, False),
    ("lexicon.legal_pressure", "CN", cn_with("请在", "逾期将起诉，请在"), None, True),
    ("lexicon.legal_pressure", "CN", cn_with("请在", "逾期信息将按规定报送征信，请在"), None, False),
    ("lexicon.legal_pressure", "US", us_with("Pay in", "We will sue. Pay in"), None, True),
    ("lexicon.legal_pressure", "US", us_with("Pay in", "No issue if you pay in"), None, False),  # not "sue"
    ("lexicon.impersonation", "CN", cn_with("请在", "法院已受理，请在"), None, True),
    ("lexicon.impersonation", "US", us_with("Pay in", "Our attorney says pay in"), None, True),
    ("lexicon.third_party", "CN", cn_with("请在", "否则通知家人，请在"), None, True),
    ("lexicon.third_party", "US", us_with("Pay in", "We may call your employer. Pay in"), None, True),
    ("lexicon.insult", "CN", cn_with("请在", "别当老赖，请在"), None, True),
    ("lexicon.insult", "US", us_with("Pay in", "Don't be a deadbeat. Pay in"), None, True),
    ("lexicon.collateral", "CN", cn_with("请在", "以免影响子女上学，请在"), None, True),
    ("lexicon.collateral", "US", us_with("Pay in", "Think of your kids. Pay in"), None, True),
    ("lexicon.fee", "CN", cn_with("请在", "缴纳手续费后，请在"), None, True),
    ("lexicon.fee", "US", us_with("Pay in", "A processing fee applies. Pay in"), None, True),
    ("lexicon.platform", "CN", cn_with("您好，", "您好，催收提醒："), None, True),
    ("lexicon.platform", "CN", CN_OK, None, False),
    # content
    ("content.link", "CN", cn_with("阳光消费金融App", "www.sunshine.cn"), None, True),
    ("content.link", "CN", cn_with("阳光消费金融App", "https://sunshine-cfc.example.cn/pay"), None, True),
    ("content.link", "CN", cn_with("阳光消费金融App", "t.cn/A6x"), None, True),
    ("content.link", "CN", CN_OK, None, False),
    ("content.link", "US", us_with("in the Sunshine app", "at https://evil.example.net/pay"), None, True),
    ("content.link", "US", us_with("in the Sunshine app", "at https://sunshine.example.com/pay"), None, False),
    ("content.mobile_number", "CN", cn_with("客服95000", "客服95000或13812345678"), None, True),
    ("content.mobile_number", "CN", cn_with("客服95000", "客服95000或138-1234-5678"), None, True),
    ("content.mobile_number", "CN", cn_with("1,234.50元", "13,812,345,678.00元"), None, False),
    ("content.unlisted_number", "CN", cn_with("客服95000", "客服95000或400-123-4567"), None, True),
    ("content.unlisted_number", "CN", cn_with("客服95000。", "客服95000，95000。"), None, False),
    ("content.unlisted_number", "US", us_with("800-555-0100", "800-555-0199"), None, True),
    ("content.unlisted_number", "CN", cn_with("K7M2QX", "P95459"), None, False),  # part of a code, not a number
    ("content.unlisted_number", "CN", cn_with("K7M2QX", "959775"), None, False),  # labelled as the code
    ("content.unlisted_number", "CN", cn_with("客服95000", "客服95000或959775"), None, True),
    ("content.secret_request", "CN", cn_with("请在", "请回复短信验证码，请在"), None, True),
    ("content.secret_request", "CN", cn_with("请在", "请勿向任何人提供验证码，请在"), None, False),
    ("content.secret_request", "CN", CN_OK, None, False),  # 验证码 given by us, nothing asked
    ("content.secret_request", "US", us_with("Pay in", "Reply with your PIN or pay in"), None, True),
    ("content.secret_request", "US", us_with("Pay in", "We will never ask you to share your password. Pay in"),
     None, False),
    ("content.personal_account", "CN", cn_with("请在阳光消费金融App还款", "请转账至个人账户"), None, True),
    ("content.personal_account", "CN", CN_OK, None, False),
    ("content.personal_account", "US", us_with("Pay in the Sunshine app", "Send it to my personal account"),
     None, True),
    ("content.qr_code", "CN", cn_with("请在", "请扫码或在"), None, True),
    ("content.qr_code", "US", us_with("Pay in", "Scan the QR code or pay in"), None, True),
    ("content.im_contact", "CN", cn_with("客服95000", "客服95000或加微信"), None, True),
    ("content.im_contact", "US", us_with("or call", "or WhatsApp us or call"), None, True),
    ("content.brackets", "CN", cn_with("您好，", "您好，【重要】"), None, True),
    ("content.brackets", "CN", CN_OK, None, False),
    ("content.symbol", "CN", cn_with("您好，", "您好★"), None, True),
    # length (CN counts every character, signature included)
    ("length.segments", "CN", CN_OK, None, False),
    ("length.segments", "CN", CN_OK + "请" * (135 - len(CN_OK)), None, True),
    ("length.segments", "CN", CN_OK + "请" * (134 - len(CN_OK)), None, False),
    ("length.segments", "US", US_OK, None, False),
    ("length.segments", "US", us_with("Pay in", "Please " * 3 + "pay in"), None, True),
    # penalty
    ("penalty.excessive", "CN", cn_with("请在", "逾期将按合同收取每日2%的逾期罚息，请在"), None, True),
    ("penalty.excessive", "CN", cn_with("请在", "按合同每日罚息0.05%，请在"), 0.0005, False),
    ("penalty.excessive", "CN", cn_with("请在", "按合同每日罚息0.05%，请在"), 0.0003, True),  # not the contract's
    ("penalty.excessive", "CN", cn_with("请在", "逾期罚息按年化利率36%计收，请在"), None, True),
    ("penalty.excessive", "CN", cn_with("请在", "逾期罚息按年化利率24%计收，请在"), None, False),
    ("penalty.excessive", "CN", cn_with("请在", "按合同每日收取万分之五的罚息，请在"), 0.0005, False),
    ("penalty.excessive", "CN", cn_with("请在", "逾期罚息为日息千分之一，请在"), None, True),
    ("penalty.excessive", "CN", cn_with("请在", "逾期将收取2%的罚息，请在"), None, True),  # period unstated: warn
    ("penalty.excessive", "CN", cn_with("请在", "现可享受9折优惠，请在"), None, False),  # not a penalty
    ("penalty.excessive", "US", us_with("Pay in", "A late fee of 2% per day applies. Pay in"), None, True),
    ("penalty.excessive", "US", us_with("Pay in", "Penalty interest is 0.05% per day. Pay in"), 0.0005, False),
    # opt-out
    ("optout.missing", "US", us_with("Reply STOP to stop texts to this number.", ""), None, True),
    ("optout.missing", "US", us_with("Reply STOP to stop texts to this number.", "Please don't stop paying."),
     None, True),
    ("optout.missing", "US", US_OK, None, False),
    ("optout.forbidden", "CN", CN_OK + "拒收请回复R", None, True),
    ("optout.forbidden", "CN", CN_OK, None, False),
    # tone
    ("tone.exclamation", "CN", cn_with("到期，", "到期！"), None, True),
    ("tone.exclamation", "US", us_with("8/31.", "8/31!"), None, True),
    ("tone.exclamation", "CN", CN_OK, None, False),
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
