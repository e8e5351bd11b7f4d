"""The bundled Chinese templates: one per cadence stage plus an M1 challenger, each complete and lint clean; the
visit notice (issue 21) is the one factual template that names no debt and may say 上门."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dunning.compliance import VISIT_NOTICE_TEMPLATE, lint_messages, lint_template, load_policy
from dunning.domain.sms import measure
from dunning.templates import STAGES, TONES, compile_template, load_bundled_templates, render

IDENTITY = {"institution": "阳光消费金融", "signatures": ["阳光消费金融"], "hotlines": ["95000"],
            "domains": ["sunshine-cfc.example.cn"]}
CTX = {"institution": "阳光消费金融", "signature": "阳光消费金融", "hotline": "95000", "app": "阳光消费金融App",
       "domain": "sunshine-cfc.example.cn"}
SPECS = load_bundled_templates()
REMINDERS = [s for s in SPECS if s.id != VISIT_NOTICE_TEMPLATE]
POLICY = load_policy("CN", IDENTITY)


def test_one_template_per_stage_and_an_m1_challenger() -> None:
    stages = [s.stage for s in SPECS]
    assert set(stages) == set(STAGES)
    assert stages.count("M1") >= 2  # champion and challenger
    assert len({s.id for s in SPECS}) == len(SPECS)
    assert all(s.tone in TONES and s.profile == "CN" and s.description for s in SPECS)
    tone = {s.stage: s.tone for s in SPECS}
    assert tone["first_overdue"] == "gentle" and tone["M3"] == "firm" and tone["M4+"] == "firm"


@pytest.mark.parametrize("spec", REMINDERS, ids=[s.id for s in REMINDERS])
def test_template_carries_every_required_element(spec: object) -> None:
    from dunning.templates import TemplateSpec

    assert isinstance(spec, TemplateSpec)
    text, variables = spec.text, spec.variables
    assert "${amount}" in text and variables["amount"] == "money"
    assert "${due_date}" in text or "${dpd}" in text
    assert "${app}" in text and "${hotline}" in text
    assert "${verify_code}" in text
    assert "可在官网或致电客服核实" in text and "我司不会要求向个人账户转账" in text
    assert not text.startswith("【")  # the signature is added by render
    if spec.stage in ("M1", "M2"):
        assert "${penalty_rate}" in text and "按合同" in text  # the penalty as a contract fact
    if spec.stage == "first_overdue":
        assert "感谢" in text and "分期" in text and "展期" in text


def test_the_visit_notice_is_factual_and_names_no_debt() -> None:
    spec = next(s for s in SPECS if s.id == VISIT_NOTICE_TEMPLATE)
    assert spec.stage == "visit_notice" and not spec.text.startswith("【")
    for var in ("${institution}", "${staff}", "${visit_date}", "${reg_no}", "${hotline}", "${verify_code}"):
        assert var in spec.text
    assert not set(spec.variables) & {"name", "amount", "due_date", "dpd", "last4", "penalty_rate", "product"}
    assert "我司不会要求向个人账户转账" in spec.text and "逾期" not in spec.text and "还款" not in spec.text
    # only with the visit-notice allowance: the same text as any other template is blocked (上门, no amount)
    blocked = {f.rule for f in lint_template(spec.text, spec.variables, POLICY, CTX) if f.severity == "block"}
    assert blocked == {"lexicon.threat", "required.amount"}


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_lint_clean_with_the_default_identity(spec: object) -> None:
    from dunning.templates import TemplateSpec

    assert isinstance(spec, TemplateSpec)
    findings = lint_template(spec.text, spec.variables, POLICY, CTX, visit_notice=spec.id == VISIT_NOTICE_TEMPLATE)
    assert [f for f in findings if f.severity == "block"] == []
    # the only warning allowed: a third part when every variable is at its widest
    assert {f.rule for f in findings} <= {"length.segments"}
    c = compile_template(spec.text, spec.variables)
    assert measure(c.worst_case_text(CTX)).parts <= 3


def test_rendered_messages_lint_clean_and_fit_two_parts() -> None:
    n = 400
    frame = pl.DataFrame({
        "loan_id": [f"L{i:09d}" for i in range(n)],
        "name": [["张三", "欧阳娜娜", None, "李"][i % 4] for i in range(n)],
        "amount_due_fen": [(i * 7919) % 5_000_000 + 100 for i in range(n)],
        "due_date": [date(2026, 1 + i % 12, 1 + i % 28) for i in range(n)],
        "penalty_rate": [[0.0005, 0.0003, 0.00055][i % 3] for i in range(n)],
        "dpd": [i % 200 for i in range(n)],
        "verify_code": ["K7M2QX"] * n,
        "agency": ["华信商务咨询"] * n,  # the entrustment notice names the agency
        "staff": [["张伟、李娜", "欧阳娜娜、王强、赵敏"][i % 2] for i in range(n)],  # the visit notice
        "reg_no": [f"REG-20261205-{i:06d}" for i in range(n)],
        "visit_date": ["12月31日18:30"] * n,
    }, schema_overrides={"dpd": pl.Int32})
    for spec in SPECS:
        texts = render(frame, compile_template(spec.text, spec.variables), CTX)
        assert texts.str.starts_with("【阳光消费金融】").all()
        notice = pl.lit(spec.id == VISIT_NOTICE_TEMPLATE).alias("visit_notice")
        out = lint_messages(frame.with_columns(texts.alias("text"), notice), POLICY, visit_notice_col="visit_notice")
        assert out.height == 0, (spec.id, out.head(3).to_dicts())
        assert texts.str.len_chars().le(134).all(), spec.id  # amounts under 50,000 yuan: two parts
