"""Templates in the console: live lint highlighting, save as a new draft, submit, approve by another person."""

from __future__ import annotations

from dunning.services import templates as tsvc
from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from dunning.templates import load_bundled_templates
from tests.web.conftest import login_as


def _bundled_m1() -> tuple[str, str]:
    spec = next(s for s in load_bundled_templates() if s.id == "M1")
    return spec.text, "\n".join(f"{k}: {v}" for k, v in spec.variables.items())


def test_live_check_highlights_the_offending_words(app: object) -> None:
    text, variables = _bundled_m1()
    strat = login_as(app, Role.STRATEGIST)  # type: ignore[arg-type]
    r = strat.post("/templates/M1/check", data={"text": text + "请转账到个人账户。", "variables": variables},
                   headers={"HX-Request": "true", "X-CSRF-Token": strat.csrf})
    assert r.status_code == 200
    assert '<mark class="sev-block"' in r.text and "个人账户</mark>" in r.text
    assert 'data-rule="content.personal_account"' in r.text
    clean = strat.post("/templates/M1/check", data={"text": text, "variables": variables})
    assert "<mark class=\"sev-block\"" not in clean.text and "条计费" in clean.text


def test_a_broken_placeholder_says_what_is_wrong(app: object) -> None:
    strat = login_as(app, Role.STRATEGIST)  # type: ignore[arg-type]
    r = strat.post("/templates/M1/check", data={"text": "${nmae}您好", "variables": "name: masked_name"})
    assert r.status_code == 200 and "nmae" in r.text and "alert" in r.text


def test_draft_review_and_four_eyes_approval(app: object, web_ctx: AppContext) -> None:
    text, variables = _bundled_m1()
    strat = login_as(app, Role.STRATEGIST)  # type: ignore[arg-type]
    r = strat.post("/templates/M1", data={"text": text.replace("请", "请您", 1), "variables": variables})
    assert r.status_code == 303
    page = strat.get("/templates/M1").text
    assert "已保存为 v2（草稿）" in page and 'data-testid="submit-v2"' in page
    assert strat.post("/templates/M1/versions/2/submit").status_code == 303
    assert strat.post("/templates/M1/versions/2/approve").status_code == 403, "a strategist does not approve"
    comp = login_as(app, Role.COMPLIANCE)  # type: ignore[arg-type]
    assert 'data-testid="approve-v2"' in comp.get("/templates/M1").text
    assert comp.post("/templates/M1/versions/2/approve").status_code == 303
    assert tsvc.get(web_ctx, "M1", 2).status == "approved"
    # The author of a version may not approve it, even with the compliance role.
    comp.post("/templates/M1", data={"text": text, "variables": variables})
    comp.post("/templates/M1/versions/3/submit")
    assert "作者不能批准自己的版本" in comp.get("/templates/M1").text
    r = comp.post("/templates/M1/versions/3/approve", headers={"X-CSRF-Token": comp.csrf,
                                                                "Referer": "http://testserver/templates/M1"})
    assert r.status_code == 303
    assert "四眼原则" in comp.get("/templates/M1").text
    assert tsvc.get(web_ctx, "M1", 3).status == "in_review"


def test_provider_template_codes_are_registered_on_an_approved_version(app: object, web_ctx: AppContext) -> None:
    """Aliyun and Tencent send only templates registered with them: an operator records the code the provider
    assigned on the approved version's row, and the campaign's claim hands it to the channel."""
    approved = next(v for v in tsvc.history(web_ctx, "M1") if v.status == "approved")
    op = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    r = op.post(f"/templates/M1/versions/{approved.version}/codes",
                data={"channel": "aliyun", "provider_code": " SMS_465321 "})
    assert r.status_code == 303
    page = op.get("/templates/M1").text
    assert "已登记通道 aliyun 的模板编号 SMS_465321" in page
    assert f'data-testid="codes-v{approved.version}"' in page and "aliyun SMS_465321" in page
    assert tsvc.get(web_ctx, "M1", approved.version).channel_codes == {"aliyun": "SMS_465321"}
    # A free-text channel needs no code: refused with the reason, nothing stored.
    r = op.post(f"/templates/M1/versions/{approved.version}/codes", data={"channel": "sandbox", "provider_code": "X1"},
                headers={"X-CSRF-Token": op.csrf, "Referer": "http://testserver/templates/M1"})
    assert r.status_code == 303
    assert "不是模板短信通道" in op.get("/templates/M1").text
    assert tsvc.get(web_ctx, "M1", approved.version).channel_codes == {"aliyun": "SMS_465321"}
    # A viewer may look but not register.
    viewer = login_as(app, Role.VIEWER)  # type: ignore[arg-type]
    assert viewer.post(f"/templates/M1/versions/{approved.version}/codes",
                       data={"channel": "aliyun", "provider_code": "SMS_1"}).status_code == 403


def test_live_lint_shows_the_same_findings_as_the_cli(app: object, web_ctx: AppContext, tmp_path: object) -> None:
    """The issue's three cases typed into the editor with a company overlay: the findings the console shows are
    the ones `dunning templates lint FILE --policy overlay.yaml` reports."""
    import re
    from pathlib import Path

    import yaml

    base = Path(str(tmp_path))
    overlay = base / "overlay.yaml"
    overlay.write_text("institution: 安心消费金融\nsignatures: [安心消金]\nhotlines: ['95188']\n", encoding="utf-8")
    web_ctx.settings.policy_overlay = overlay
    body = ("${name}您好，您尾号${last4}的借款${amount}将于${due_date}到期，请在${app}还款。客服${hotline}。"
            "可致电客服核实，我司不会要求向个人账户转账。")
    variables = {"name": "masked_name", "last4": "last4", "amount": "money", "due_date": "date", "app": "text",
                 "hotline": "text"}
    cases = [
        (body.replace("请在", "再不还款将通知你的家人和单位，请在"), variables),
        ("【安心消金】" + body, variables),
        (body, variables),
        ("您有剩余欠款人民币${amount}，截止日期为${due}。如逾期未还，将依照合同协定收取每日2%的逾期罚息。客服${hotline}。",
         {"amount": "money", "due": "date", "hotline": "text"}),
    ]
    path = base / "lint.yaml"
    path.write_text(yaml.safe_dump([{"id": str(i), "text": t, "variables": v} for i, (t, v) in enumerate(cases)],
                                   allow_unicode=True), encoding="utf-8")
    cli = tsvc.lint_file(path, web_ctx.settings, overlay)
    strat = login_as(app, Role.STRATEGIST)  # type: ignore[arg-type]
    for (text, v), result in zip(cases, cli, strict=True):
        form = {"text": text, "variables": "\n".join(f"{k}: {t}" for k, t in v.items())}
        r = strat.post("/templates/M1/check", data=form,
                       headers={"HX-Request": "true", "X-CSRF-Token": strat.csrf})
        assert r.status_code == 200
        shown = sorted(re.findall(r'data-rule="([^"]+)"', r.text))
        assert shown == sorted(f.rule for f in result.findings), text
    rules = [{f.rule for f in r.findings} for r in cli]
    assert rules[0] == {"lexicon.third_party"}  # the paraphrase, in both
    assert rules[1] == rules[2] == set()  # the overlay's signature, own or added: no finding in either
    assert {"template.binding", "penalty.excessive"} <= rules[3]  # a binding problem hides nothing
