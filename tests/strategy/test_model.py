from __future__ import annotations

import pytest

from dunning.errors import InputError
from dunning.strategy import load_bundled_strategy, parse_strategy

BASE = "name: x\nsegments:\n  - {name: a, steps: [{dpd: [1], template: M1}]}\n"


def test_bundled_strategy_is_valid_and_names_its_templates() -> None:
    spec, sha, _ = load_bundled_strategy()
    assert len(sha) == 64
    assert {"pre_due_3", "M1", "M1_b", "M4+"} <= spec.templates()


def test_errors_say_where_and_what_in_chinese() -> None:
    with pytest.raises(InputError) as e:
        parse_strategy("name: x\nsegments:\n  - {name: a, when: {bucket: [M9]}, steps: [{dpd: [1], template: t}]}\n")
    assert "M9" in e.value.message_zh and "segments.0.when.bucket" in e.value.message_zh
    assert e.value.code == "strategy.invalid"
    with pytest.raises(InputError, match="pre_due_days、dpd 或 every"):
        parse_strategy("name: x\nsegments:\n  - {name: a, steps: [{template: t}]}\n")


@pytest.mark.parametrize(("extra", "needle"), [
    ("timezone: Mars/Olympus\n", "未知的时区"),
    ("region_timezones: {新疆: Asia/Nowhere}\n", "未知的时区"),
    ("pilot: {share: 0.1, count: 50}\n", "share 或 count"),
    ("send_window: {start: '21:00', end: '09:00'}\n", "start 必须早于 end"),
    ("holidays: sometimes\n", "holidays"),
])
def test_invalid_settings_are_refused(extra: str, needle: str) -> None:
    with pytest.raises(InputError) as e:
        parse_strategy(extra + BASE)
    assert needle in e.value.message_zh


def test_step_names_must_be_unique_because_they_key_messages() -> None:
    with pytest.raises(InputError, match="步骤名称重复"):
        parse_strategy("name: x\nsegments:\n  - {name: a, steps: [{name: s, dpd: [1], template: M1}]}\n"
                       "  - {name: b, steps: [{name: s, dpd: [2], template: M1}]}\n")


def test_holdout_is_a_reserved_variant_name_and_pre_due_days_are_not_negative() -> None:
    with pytest.raises(InputError, match="holdout"):
        parse_strategy("name: x\nsegments:\n  - {name: a, steps: [{dpd: [1], variants: [{name: holdout, "
                       "template: M1}]}]}\n")
    with pytest.raises(InputError, match="≥ 0"):
        parse_strategy("name: x\nsegments:\n  - {name: a, steps: [{pre_due_days: [-1], template: M1}]}\n")


def test_pilot_count_replaces_the_default_share() -> None:
    spec, _ = parse_strategy("pilot: {count: 30}\n" + BASE)
    assert spec.pilot.effective_share is None and spec.pilot.count == 30
    spec, _ = parse_strategy(BASE)
    assert spec.pilot.effective_share == 0.01
