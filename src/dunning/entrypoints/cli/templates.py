"""`dunning templates ...`: lint and preview template files; save, review, approve, retire stored templates."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from dunning.config import get_settings
from dunning.entrypoints.cli.common import acting, console, context, emit_json, handled
from dunning.errors import InputError

app = typer.Typer(help="短信模板：检查、预览、保存、审核 / SMS templates", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="输出 JSON / JSON output")
PolicyOpt = typer.Option(None, "--policy", help="公司策略覆盖文件（YAML） / company policy overlay", exists=True,
                         dir_okay=False)


def _marked(text: str, findings: list[Any]) -> Text:
    """The text with every finding's span highlighted (red: block, yellow: warn)."""
    out = Text(text)
    for f in findings:
        if f.end > f.start:
            out.stylize("bold white on red" if f.severity == "block" else "black on yellow", f.start, f.end)
    return out


@app.command("lint")
def lint(
    file: Path = typer.Argument(..., help="模板 YAML：[{id, text, variables: {名: 类型}, profile?}]", exists=True,
                                dir_okay=False),
    policy: Path = PolicyOpt,
    json_out: bool = JsonOpt,
) -> None:
    """按合规策略检查模板文件；有阻断项时退出码为 1。 / Lint a template file; exit 1 on any blocking finding."""
    from dunning.services.templates import lint_file

    with handled(json_out):
        results = lint_file(file, get_settings(), policy)
    blocked = any(r.blocked for r in results)
    if json_out:
        emit_json({"templates": [r.to_dict() for r in results]})
    else:
        from dunning.services.templates import read_specs

        texts = {s.id: s.text for s in read_specs(file)}
        for r in results:
            status = "[red]阻断[/]" if r.blocked else ("[yellow]警告[/]" if r.findings else "[green]通过[/]")
            console.print(f"[bold]{r.id}[/]（{r.profile}）{status} · 最长 {r.worst_case_length} 字 · {r.segments} 条")
            console.print(_marked(texts.get(r.id, ""), r.findings))
            for f in r.findings:
                sev = "[red]block[/]" if f.severity == "block" else "[yellow]warn[/]"
                console.print(f"  {sev} {f.rule} [{f.start}:{f.end}] {f.message_zh}")
        console.print(f"共 {len(results)} 个模板，{sum(r.blocked for r in results)} 个有阻断项。")
    if blocked:
        raise typer.Exit(1)


@app.command("preview")
def preview(
    code: str = typer.Argument(None, help="已保存的模板编号（或用 --file/--id 预览文件中的模板）"),
    version: int = typer.Option(None, "--version", "-v", help="版本号（默认最新）"),
    file: Path = typer.Option(None, "--file", help="模板 YAML 文件", exists=True, dir_okay=False),
    template_id: str = typer.Option(None, "--id", help="文件中的模板 id（默认第一个）"),
    policy: Path = PolicyOpt,
    json_out: bool = JsonOpt,
) -> None:
    """用样例账户渲染模板，显示长度、条数与检查结果。 / Render for sample accounts with length and parts."""
    with handled(json_out):
        if file is not None:
            from dunning.services.templates import (
                preview_compiled,
                read_specs,
                settings_context,
                settings_policy,
            )
            from dunning.templates import compile_template

            specs = read_specs(file)
            spec = next((s for s in specs if template_id in (None, s.id)), None)
            if spec is None:
                raise InputError(f"文件中没有模板 {template_id}", f"no template {template_id!r} in {file}")
            settings = get_settings()
            effective = settings_policy(settings, spec.profile, policy)
            rows = preview_compiled(compile_template(spec.text, spec.variables), effective,
                                    settings_context(settings, effective))
            title = spec.id
        else:
            if code is None:
                raise InputError("请给出模板编号，或 --file", "give a template code, or --file")
            from dunning.services import templates as svc

            rows = svc.preview(context(), code, version, policy_overlay=policy)
            title = f"{code}" + (f" v{version}" if version else "")
    if json_out:
        emit_json({"template": title, "previews": [
            {"loan_id": r.loan_id, "text": r.text, "length": r.length, "segments": r.segments,
             "findings": [f.to_dict() for f in r.findings]} for r in rows]})
        return
    table = Table(title=f"预览 {title}", show_lines=True)
    table.add_column("账户")
    table.add_column("短信", overflow="fold")
    table.add_column("字数", justify="right")
    table.add_column("条数", justify="right")
    table.add_column("检查")
    for r in rows:
        checks = "\n".join(f"{f.severity} {f.rule}" for f in r.findings) or "通过"
        table.add_row(r.loan_id, _marked(r.text, r.findings), str(r.length), str(r.segments), checks)
    console.print(table)


def _print_view(v: Any, json_out: bool) -> None:
    if json_out:
        emit_json(v.to_dict())
        return
    console.print(f"[bold]{v.code}[/] v{v.version} · {v.status} · {v.tone} · {v.stage or '—'} · 作者 {v.author}"
                  + (f" · 审批 {v.reviewer}" if v.reviewer else ""))
    console.print(v.text)
    console.print(f"最长 {v.worst_case_length} 字 · {v.segments} 条")
    for f in v.findings:
        console.print(f"  {f['severity']} {f['rule']} [{f['start']}:{f['end']}] {f['message_zh']}")


@app.command("save")
def save(
    code: str = typer.Argument(..., help="模板编号"),
    text: str = typer.Option(..., "--text", help="模板内容，变量写作 ${name}"),
    variables: str = typer.Option(..., "--vars", help='变量类型 JSON，如 {"name": "masked_name", "amount": "money"}'),
    tone: str = typer.Option("neutral", "--tone", help="gentle / neutral / firm"),
    stage: str = typer.Option("", "--stage", help="pre_due_3 / pre_due_1 / due_today / first_overdue / M1…M4+"),
    profile: str = typer.Option("CN", "--profile", help="CN / US"),
    name: str = typer.Option("", "--name", help="显示名"),
    actor: str = typer.Option(None, "--as", help="操作人"),
    policy: Path = PolicyOpt,
    json_out: bool = JsonOpt,
) -> None:
    """保存为新版本（草稿），并给出检查结果。"""
    from dunning.services import templates as svc

    with handled(json_out):
        try:
            parsed = json.loads(variables)
        except json.JSONDecodeError as exc:
            raise InputError(f"--vars 不是合法 JSON：{exc}", f"--vars is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise InputError("--vars 应为 JSON 对象", "--vars must be a JSON object")
        v = svc.save(ctx := context(), code=code, text=text, variables=parsed, tone=tone, stage=stage, profile=profile,
                     name=name, actor=acting(ctx, actor), policy_overlay=policy)
    _print_view(v, json_out)


def _transition(action: str, code: str, version: int | None, actor: str | None, json_out: bool,
                **kw: Any) -> None:
    from dunning.services import templates as svc

    actions: dict[str, Callable[..., Any]] = {"submit": svc.submit_for_review, "approve": svc.approve,
                                              "reject": svc.reject, "retire": svc.retire}
    fn = actions[action]
    with handled(json_out):
        v = fn(ctx := context(), code, version, actor=acting(ctx, actor), **kw)
    _print_view(v, json_out)


@app.command("submit")
def submit(code: str, version: int = typer.Option(None, "--version", "-v"), actor: str = typer.Option(None, "--as"),
           json_out: bool = JsonOpt) -> None:
    """提交审核（重新检查；有阻断项则拒绝）。"""
    _transition("submit", code, version, actor, json_out)


@app.command("approve")
def approve(code: str, version: int = typer.Option(None, "--version", "-v"),
            actor: str = typer.Option(None, "--as"), json_out: bool = JsonOpt) -> None:
    """批准（合规角色、非作者；重新检查）。批准后内容不可修改。"""
    _transition("approve", code, version, actor, json_out)


@app.command("reject")
def reject(code: str, version: int = typer.Option(None, "--version", "-v"), actor: str = typer.Option(None, "--as"),
           reason: str = typer.Option("", "--reason", help="退回原因"), json_out: bool = JsonOpt) -> None:
    """退回草稿。"""
    _transition("reject", code, version, actor, json_out, reason=reason)


@app.command("retire")
def retire(code: str, version: int = typer.Option(None, "--version", "-v"), actor: str = typer.Option(None, "--as"),
           json_out: bool = JsonOpt) -> None:
    """停用某个版本。"""
    _transition("retire", code, version, actor, json_out)


@app.command("show")
def show(code: str, json_out: bool = JsonOpt) -> None:
    """显示模板的全部版本。"""
    from dunning.services import templates as svc

    with handled(json_out):
        versions = svc.history(context(), code)
    if json_out:
        emit_json({"code": code, "versions": [v.to_dict() for v in versions]})
        return
    for v in versions:
        _print_view(v, False)
        console.print()


@app.command("codes")
def codes(
    code: str = typer.Argument(..., help="模板编号"),
    version: int = typer.Option(None, "--version", "-v", help="版本号（默认最新的已批准版本）"),
    sets: list[str] = typer.Option(None, "--set", help="通道=服务商模板编号，如 aliyun=SMS_123456、tencent=1234567；"
                                                       "可重复；编号留空则删除该通道的登记"),
    actor: str = typer.Option(None, "--as", help="操作人"),
    json_out: bool = JsonOpt,
) -> None:
    """登记或查看模板在阿里云、腾讯云等模板短信通道的模板编号（不带 --set 时只列出）。
    / Register (--set channel=code) or list the provider template codes of a template's versions."""
    from dunning.services import templates as svc

    with handled(json_out):
        if sets:
            parsed: dict[str, str] = {}
            for item in sets:
                key, eq, value = item.partition("=")
                if not eq or not key.strip():
                    raise InputError(f"--set 应写作 通道=模板编号（如 aliyun=SMS_123456）：{item}",
                                     f"--set must be channel=code (e.g. aliyun=SMS_123456): {item}",
                                     code="template.codes")
                parsed[key.strip()] = value.strip()
            views = [svc.set_channel_codes(ctx := context(), code, version, codes=parsed,
                                           actor=acting(ctx, actor))]
        elif version is not None:
            views = [svc.get(context(), code, version)]
        else:
            views = svc.history(context(), code)
    if json_out:
        emit_json({"code": code, "versions": [{"version": v.version, "status": v.status,
                                               "channel_codes": v.channel_codes,
                                               **({"pending": v.pending} if v.pending else {})} for v in views]})
        return
    if sets and views[0].pending:
        console.print(f"[yellow]已提交[/] {code} v{views[0].version} 的模板编号变更，须由另一位合规审核人员确认"
                      "（同样的 --set 再执行一次）。")
    elif sets:
        console.print(f"[green]已登记[/] {code} v{views[0].version} 的模板编号。")
    table = Table(title=f"模板 {code} 的服务商模板编号")
    table.add_column("版本", justify="right")
    table.add_column("状态")
    table.add_column("通道 = 模板编号")
    for v in views:
        registered = "\n".join(f"{k} = {c}" for k, c in sorted(v.channel_codes.items())) or "[dim]（未登记）[/]"
        table.add_row(str(v.version), v.status, registered)
    console.print(table)


@app.command("list")
def list_(json_out: bool = JsonOpt) -> None:
    """全部模板：最新版本、生效版本与状态。"""
    from dunning.domain.states import TEMPLATE_STATUS_ZH as status_zh
    from dunning.services.queries.templates import list_templates

    with handled(json_out):
        rows = list_templates(context())
    if json_out:
        emit_json([asdict(t) for t in rows])
        return
    t = Table(title=f"模板（{len(rows)}）")
    for col in ("代码", "名称", "语气", "阶段", "最新版本", "状态", "生效版本"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.code, r.name, r.tone, r.stage, str(r.latest_version), status_zh.get(r.latest_status, r.latest_status),
                  str(r.approved_version) if r.approved_version is not None else "—")
    console.print(t)
    if not rows:
        console.print("还没有模板：dunning templates save 代码 --file 模板.yaml，或先运行 dunning campaign plan 载入内置模板")
