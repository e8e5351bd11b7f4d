"""The three cases of issue 18 through `dunning templates lint FILE --policy overlay.yaml`, as a compliance
officer runs them: a paraphrased third-party threat, the overlay's own signature, and a lint file whose variable
names no data field."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import env, run, write  # noqa: F401  (env is a fixture)

OVERLAY = "institution: 安心消费金融\nsignatures: [安心消金]\nhotlines: ['95188']\n"
BODY = ("${name}您好，您尾号${last4}的借款${amount}将于${due_date}到期，请在${app}还款。客服${hotline}。"
        "可致电客服核实，我司不会要求向个人账户转账。")
VARS = {"name": "masked_name", "last4": "last4", "amount": "money", "due_date": "date", "app": "text",
        "hotline": "text"}


def lint(tmp_path: Path, env: dict[str, str], items: list[dict[str, object]]) -> tuple[int, list[dict]]:  # noqa: F811
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    code, out = run(env, "lint", str(write(tmp_path, items)), "--policy", str(overlay), "--json")
    return code, json.loads(out)["templates"]


def rules(result: dict) -> set[str]:
    return {f["rule"] for f in result["findings"]}


def test_a_paraphrased_third_party_threat_is_caught(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    text = BODY.replace("请在", "再不还款将通知你的家人和单位，请在")
    code, [result] = lint(tmp_path, env, [{"id": "para", "text": text, "variables": VARS}])
    assert code == 1
    f = next(f for f in result["findings"] if f["rule"] == "lexicon.third_party")
    assert text[f["start"]:f["end"]] == "通知你的家人"
    # and what a lender may say stays clean
    safe = BODY.replace("我司不会要求向个人账户转账", "我司不会上门催收，也不会联系您的家人，请勿将验证码告知他人")
    code, [result] = lint(tmp_path, env, [{"id": "safe", "text": safe, "variables": VARS}])
    assert code == 0 and result["findings"] == []


def test_the_overlay_signature_is_the_message_signature(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    items = [{"id": "plain", "text": BODY, "variables": VARS},
             {"id": "own", "text": "【安心消金】" + BODY, "variables": VARS},
             {"id": "other", "text": "【阳光消费金融】" + BODY, "variables": VARS}]
    code, (plain, own, other) = lint(tmp_path, env, items)
    assert plain["findings"] == [] and own["findings"] == []  # no signature.unregistered, no content.brackets
    assert own["segments"] == plain["segments"]  # the signature is not added twice
    assert rules(other) == {"signature.unregistered"}  # the settings' signature is no longer registered
    assert code == 1


def test_a_binding_problem_does_not_hide_the_other_findings(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    text = ("亲爱的客户，依据咱们的记录，您有剩余欠款人民币${amount}，截止日期为${due}。如逾期未还，将依照合同协定收取"
            "每日2%的逾期罚息。" + "请在${app}还款，客服${hotline}。" + "可致电客服核实。" * 16)
    code, [result] = lint(tmp_path, env, [{"id": "due", "text": text, "variables": {
        "amount": "money", "due": "date", "app": "text", "hotline": "text"}}])
    assert code == 1
    found = rules(result)
    assert {"template.binding", "penalty.excessive", "length.segments"} <= found
    assert "template.invalid" not in found
    binding = next(f for f in result["findings"] if f["rule"] == "template.binding")
    assert "due" in binding["message_zh"]
    assert result["segments"] >= 4  # `due: date` linted at a date's width, the length counted


def test_preview_signs_with_the_overlay_signature(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    path = write(tmp_path, [{"id": "plain", "text": BODY, "variables": VARS},
                            {"id": "own", "text": "【安心消金】" + BODY, "variables": VARS}])
    for tid in ("plain", "own"):
        code, out = run(env, "preview", "--file", str(path), "--id", tid, "--policy", str(overlay), "--json")
        assert code == 0, out
        previews = json.loads(out)["previews"]
        assert previews and all(p["text"].startswith("【安心消金】") and p["text"].count("【") == 1 for p in previews)
        assert all(not any(f["severity"] == "block" for f in p["findings"]) for p in previews)
