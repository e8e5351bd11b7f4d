from __future__ import annotations

from pathlib import Path

import pytest

from dunning.compliance import lint_text, load_policy
from dunning.compliance.policy import DAILY_RATE_CEILING
from dunning.errors import ConfigError

from .test_rules import CN_OK


def test_shipped_profiles_carry_the_researched_defaults() -> None:
    cn, us = load_policy("CN"), load_policy("US")
    assert cn.counting == "cn_domestic" and (cn.warn_segments, cn.block_segments, cn.total_max) == (2, 3, 500)
    assert us.counting == "intl" and (us.warn_segments, us.block_segments) == (1, 2)
    assert "催收" in cn.lexicons["lexicon.platform"] and "上门" in cn.lexicons["lexicon.threat"]
    assert cn.optout_forbidden and not cn.optout_required
    assert us.optout_required and not us.optout_forbidden
    assert not cn.links_enabled
    assert "退订" in cn.stop_keywords and "STOP" in us.stop_keywords
    assert cn.daily_rate_ceiling == DAILY_RATE_CEILING == pytest.approx(0.24 / 365)
    assert 0.000657 < cn.daily_rate_ceiling < 0.000658  # about 0.0657 % a day


def test_overlay_file_sets_identity(tmp_path: Path) -> None:
    f = tmp_path / "company.yaml"
    f.write_text("institution: 好运金融\nsignatures: [好运金融]\nhotlines: ['400-800-1234']\n"
                 "domains: [haoyun.example.cn]\nlength: {warn_segments: 3}\n", encoding="utf-8")
    p = load_policy("CN", f)
    assert (p.institution, p.signatures, p.hotlines, p.domains) == (
        "好运金融", ("好运金融",), ("400-800-1234",), ("haoyun.example.cn",))
    assert p.warn_segments == 3
    rules = {x.rule for x in lint_text(CN_OK, p)}
    assert {"signature.unregistered", "required.contact", "content.unlisted_number"} <= rules


def test_overlay_can_enable_links_to_own_https_domain() -> None:
    text = CN_OK.replace("阳光消费金融App", "https://sunshine-cfc.example.cn/pay")
    ident = {"institution": "阳光消费金融", "signatures": ["阳光消费金融"], "hotlines": ["95000"],
             "domains": ["sunshine-cfc.example.cn"]}
    assert any(f.rule == "content.link" for f in lint_text(text, load_policy("CN", ident)))
    enabled = load_policy("CN", {**ident, "links": {"enabled": True}})
    assert not any(f.rule == "content.link" for f in lint_text(text, enabled))
    http = text.replace("https://", "http://")
    assert any(f.rule == "content.link" for f in lint_text(http, enabled))
    other = text.replace("sunshine-cfc.example.cn", "sunshine-cfc.example.cn.evil.top")
    assert any(f.rule == "content.link" for f in lint_text(other, enabled))


@pytest.mark.parametrize(("overlay", "match"), [
    ({"signature": ["阳光"]}, "signature"),
    ({"lexicon": {"threat": ["x"]}}, "lexicon."),
    ({"signatures": "阳光"}, None),  # a single string is accepted as a one-item list
])
def test_overlay_mistakes_are_named(overlay: dict[str, object], match: str | None) -> None:
    if match is None:
        assert load_policy("CN", overlay).signatures == ("阳光",)
        return
    with pytest.raises(ConfigError) as exc:
        load_policy("CN", overlay)
    assert match in exc.value.message_zh


def test_unknown_profile_and_unreadable_overlay(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_policy("JP")
    with pytest.raises(ConfigError):
        load_policy("CN", tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_policy("CN", bad)


def test_shipped_policy_is_the_shared_research_file() -> None:
    from importlib import resources

    shipped = resources.files("dunning.data.policy").joinpath("collection-sms-default.yaml").read_text("utf-8")
    assert "policy_id: collection-sms-default" in shipped
    shared = Path("/work/shared/policy/collection-sms-default.yaml")
    if shared.exists():  # in the team's tree: the packaged copy is the researched file, unchanged
        assert shipped == shared.read_text(encoding="utf-8")
