"""`dunning templates lint|preview|save|submit|approve` through Typer's runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunning.config import get_settings
from dunning.entrypoints.cli.templates import app

GOOD: dict[str, object] = {"id": "good", "text": "${name}您好，您尾号${last4}的借款${amount}将于${due_date}到期，请在${app}还款。客服${hotline}。"
        "可致电客服核实，我司不会要求向个人账户转账。",
        "variables": {"name": "masked_name", "last4": "last4", "amount": "money", "due_date": "date", "app": "text",
                      "hotline": "text"}}
BAD: dict[str, object] = {"id": "bad", "text": "${name}，再不还款我们将上门催收，联系13812345678！", "variables": {"name": "masked_name"}}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    clear = getattr(get_settings, "cache_clear", None)
    if clear:
        clear()
    yield {"DUNNING_DATA_DIR": str(tmp_path / ".dunning"), "DUNNING_SECRET_KEY": "test-secret",
           "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml")}
    if clear:
        clear()


def write(tmp_path: Path, items: list[dict[str, object]]) -> Path:
    import yaml

    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    return path


PASSWORDS = {"zhao": "zhao-password-1", "li": "li-password-123"}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``--as NAME`` is proven with NAME's password (the CLI authenticates the person)."""
    claimed = args[args.index("--as") + 1] if "--as" in args else None
    result = CliRunner().invoke(app, list(args), env={**env, "DUNNING_PASSWORD": PASSWORDS.get(claimed or "", "")})
    return result.exit_code, result.output


def test_lint_json_shape_and_exit_code(tmp_path: Path, env: dict[str, str]) -> None:
    code, out = run(env, "lint", str(write(tmp_path, [GOOD, BAD])), "--json")
    assert code == 1, out
    data = json.loads(out)
    good, bad = data["templates"]
    assert good == {"id": "good", "segments": 2, "findings": []}
    assert set(bad) == {"id", "segments", "findings"}
    assert all(set(f) == {"rule", "severity", "start", "end", "message_zh"} for f in bad["findings"])
    rules = {f["rule"] for f in bad["findings"]}
    assert {"lexicon.threat", "lexicon.platform", "content.mobile_number", "required.amount"} <= rules
    threat = next(f for f in bad["findings"] if f["rule"] == "lexicon.threat")
    assert BAD["text"][threat["start"]:threat["end"]] == "再不还款我们将上门"  # type: ignore[index]


def test_lint_exits_zero_when_nothing_blocks(tmp_path: Path, env: dict[str, str]) -> None:
    code, out = run(env, "lint", str(write(tmp_path, [GOOD])), "--json")
    assert code == 0, out
    code, out = run(env, "lint", str(write(tmp_path, [GOOD])))
    assert code == 0 and "通过" in out


def test_lint_policy_overlay_changes_the_verdict(tmp_path: Path, env: dict[str, str]) -> None:
    overlay = tmp_path / "company.yaml"
    overlay.write_text("word_classes: {third_party: [老乡]}\n", encoding="utf-8")
    told = {**GOOD, "text": str(GOOD["text"]).replace("请在", "逾期将告诉你的老乡，请在")}
    code, out = run(env, "lint", str(write(tmp_path, [told])), "--json")
    assert code == 0, out
    code, out = run(env, "lint", str(write(tmp_path, [told])), "--policy", str(overlay), "--json")
    assert code == 1
    assert any(f["rule"] == "lexicon.third_party" for f in json.loads(out)["templates"][0]["findings"])


def test_lint_human_output_and_broken_file(tmp_path: Path, env: dict[str, str]) -> None:
    code, out = run(env, "lint", str(write(tmp_path, [BAD])))
    assert code == 1 and "阻断" in out and "lexicon.threat" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\n", encoding="utf-8")
    code, out = run(env, "lint", str(broken), "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "template.invalid"


def test_lint_the_bundled_templates_file(env: dict[str, str]) -> None:
    from importlib import resources

    path = Path(str(resources.files("dunning.data").joinpath("templates.yaml")))
    code, out = run(env, "lint", str(path), "--json")
    assert code == 0, out
    assert all(t["segments"] <= 3 for t in json.loads(out)["templates"])


def test_preview_file(tmp_path: Path, env: dict[str, str]) -> None:
    code, out = run(env, "preview", "--file", str(write(tmp_path, [GOOD])), "--json")
    assert code == 0, out
    rows = json.loads(out)["previews"]
    assert rows and all(r["text"].startswith("【阳光消费金融】") and r["length"] == len(r["text"]) for r in rows)


def test_save_submit_approve_preview_stored(env: dict[str, str]) -> None:
    from dunning.config import Settings
    from dunning.services.context import build_context
    from dunning.services.identity.users import add_user

    # the same database the CLI opens (its settings come from the environment)
    ctx = build_context(Settings(data_dir=Path(env["DUNNING_DATA_DIR"]), secret_key="test-secret"))  # type: ignore[arg-type]
    add_user(ctx, "zhao", "strategist", password=PASSWORDS["zhao"])
    add_user(ctx, "li", "compliance", password=PASSWORDS["li"])
    ctx.db.dispose()
    code, out = run(env, "save", "mine", "--text", GOOD["text"], "--vars", json.dumps(GOOD["variables"]),  # type: ignore[arg-type]
                    "--stage", "pre_due_3", "--tone", "gentle", "--as", "zhao", "--json")
    assert code == 0, out
    assert json.loads(out)["version"] == 1
    assert run(env, "submit", "mine", "--as", "zhao", "--json")[0] == 0
    code, out = run(env, "approve", "mine", "--as", "zhao", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] in ("state.four_eyes", "auth.forbidden")
    code, out = run(env, "approve", "mine", "--as", "li", "--json")
    assert code == 0 and json.loads(out)["status"] == "approved"
    code, out = run(env, "preview", "mine", "--json")
    assert code == 0 and len(json.loads(out)["previews"]) == 4
    code, out = run(env, "show", "mine")
    assert code == 0 and "approved" in out


def test_codes_registers_and_lists_provider_template_codes(env: dict[str, str]) -> None:
    from dunning.config import Settings
    from dunning.services.context import build_context
    from dunning.services.identity.users import add_user

    ctx = build_context(Settings(data_dir=Path(env["DUNNING_DATA_DIR"]), secret_key="test-secret"))  # type: ignore[arg-type]
    add_user(ctx, "zhao", "strategist", password=PASSWORDS["zhao"])
    add_user(ctx, "li", "compliance", password=PASSWORDS["li"])
    ctx.db.dispose()
    assert run(env, "save", "coded", "--text", GOOD["text"], "--vars", json.dumps(GOOD["variables"]),  # type: ignore[arg-type]
               "--as", "zhao", "--json")[0] == 0
    code, out = run(env, "codes", "coded", "--set", "aliyun=SMS_1", "--as", "zhao", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "not_found.template_version"  # none approved yet
    code, out = run(env, "codes", "coded", "-v", "1", "--set", "aliyun=SMS_1", "--as", "zhao", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "state.template"  # a draft takes no codes
    assert run(env, "submit", "coded", "--as", "zhao")[0] == 0
    assert run(env, "approve", "coded", "--as", "li")[0] == 0

    code, out = run(env, "codes", "coded", "--set", "aliyun=SMS_123456", "--set", "tencent=1234567", "--as", "zhao",
                    "--json")
    assert code == 0, out
    assert json.loads(out)["versions"] == [{"version": 1, "status": "approved",
                                            "channel_codes": {"aliyun": "SMS_123456", "tencent": "1234567"}}]
    code, out = run(env, "codes", "coded")
    assert code == 0 and "aliyun = SMS_123456" in out and "tencent = 1234567" in out
    # changing or removing a registered code on an approved version is a request a reviewer confirms
    code, out = run(env, "codes", "coded", "--version", "1", "--set", "tencent=", "--as", "zhao", "--json")
    assert code == 0 and json.loads(out)["versions"][0]["pending"] == "codes"
    assert json.loads(out)["versions"][0]["channel_codes"] == {"aliyun": "SMS_123456", "tencent": "1234567"}
    code, out = run(env, "codes", "coded", "--version", "1", "--set", "tencent=", "--as", "zhao", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "state.four_eyes"
    code, out = run(env, "codes", "coded", "--version", "1", "--set", "tencent=", "--as", "li", "--json")
    assert code == 0 and json.loads(out)["versions"][0]["channel_codes"] == {"aliyun": "SMS_123456"}
    code, out = run(env, "codes", "coded", "--set", "SMS_9", "--as", "zhao")
    assert code == 2 and "通道=模板编号" in out
    code, out = run(env, "codes", "coded", "--set", "smpp=X", "--as", "zhao", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "template.codes"
