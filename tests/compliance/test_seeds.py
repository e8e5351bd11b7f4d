"""The example messages of the seed articles (/work/shared/seeds), run through the linter.

The articles show how Chinese consumer-finance reminders are commonly written; none of their examples could be
sent as they stand. This test documents which rules each one trips under the CN profile and the default identity
(阳光消费金融 / 95000). The examples are quoted verbatim; when the seed files are present, that is checked too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dunning.compliance import Policy, lint_text

SEEDS = Path("/work/shared/seeds")
BASE_MISSING = {"signature.missing", "required.contact", "required.anti_fraud"}

# (seed file, example, rules tripped): the table beside this file
EXAMPLES: list[tuple[str, str, set[str]]] = [
    (e["seed"], e["text"], BASE_MISSING | set(e["rules"]))
    for e in yaml.safe_load(Path(__file__).with_name("seed_examples.yaml").read_text(encoding="utf-8"))
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
