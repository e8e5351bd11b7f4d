"""The `dunning` command. Each command parses, calls one service, formats (Rich, or JSON with --json)."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from dunning.config import private_umask
from dunning.entrypoints.cli import (
    agencies,
    calendar,
    campaign,
    cases,
    channels,
    imports,
    messages,
    payments,
    serve,
    templates,
    visits,
    worker,
)
from dunning.entrypoints.cli.campaign import progress_bar
from dunning.entrypoints.cli.common import (
    acting,
    acting_admin,
    console,
    context,
    emit_json,
    handled,
    intake_table,
    parse_date,
    read_password,
    service,
    set_token,
)
from dunning.errors import InputError
from dunning.services.identity.users import Role
from dunning.services.queries.labels import zh

app = typer.Typer(
    name="dunning",
    help="dunning — 合规催收短信平台 / compliance-first collection reminder SMS",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(campaign.app, name="campaign")
users_app = typer.Typer(help="用户与角色", no_args_is_help=True)
app.add_typer(users_app, name="users")

for _name, _sub in (("templates", templates), ("channels", channels), ("payments", payments),
                    ("imports", imports), ("calendar", calendar), ("visits", visits), ("cases", cases),
                    ("messages", messages)):
    app.add_typer(_sub.app, name=_name)
app.add_typer(serve.app)  # `dunning serve`
serve.register_user_commands(users_app)  # `dunning users token|password`
app.add_typer(worker.app)  # the Celery send worker: `dunning worker`
agencies.register(app)  # `dunning agencies|tenders|allocations`

JsonOpt = typer.Option(False, "--json", help="输出 JSON")
SAMPLE_ENCODINGS = ("utf-8", "gbk", "gb18030")


def _encoding(value: str) -> str:
    enc = value.strip().lower().replace("_", "-")
    enc = "utf-8" if enc == "utf8" else enc
    if enc not in SAMPLE_ENCODINGS:
        raise InputError(f"不支持的编码 {value}，可选：{'、'.join(SAMPLE_ENCODINGS)}",
                         f"unsupported encoding {value!r}; choose one of {', '.join(SAMPLE_ENCODINGS)}",
                         code="input.encoding")
    return enc


@app.command("sample")
def sample(
    accounts: int = typer.Option(20_000, "--accounts", "-n", help="账户数"),
    seed: int = typer.Option(42, "--seed", help="随机种子（相同种子得到相同文件）"),
    out: Path = typer.Option(..., "-o", "--out", help="输出 CSV 路径"),
    as_of: str = typer.Option(None, "--as-of", help="业务日期 YYYY-MM-DD（默认今天）"),
    encoding: str = typer.Option("utf-8", "--encoding", help="utf-8 或 gbk"),
) -> None:
    """生成逼真的样例账户文件（含真实导出中常见的脏数据）。"""
    from dunning.testing import generate_portfolio

    with handled():
        enc = _encoding(encoding)
        df = generate_portfolio(accounts, seed=seed, as_of=parse_date(as_of) or date.today())
        out.parent.mkdir(parents=True, exist_ok=True)
        if enc == "utf-8":
            df.write_csv(out)
        else:
            # GBK has no U+00A5 "¥"; exports from Chinese systems write the full-width "￥" instead.
            out.write_bytes(df.write_csv().replace("¥", "￥").encode(enc))
    console.print(f"已写入 {out}：{df.height:,} 行")


@app.command("import")
def import_(
    files: list[Path] = typer.Argument(..., help="一个或多个文件（CSV/XLSX/Parquet），共同构成一个快照", exists=True),
    as_of: str = typer.Option(None, "--as-of", help="业务日期 YYYY-MM-DD（默认：上海时间今天）"),
    mapping: Path = typer.Option(None, "--mapping", help="列映射 YAML", exists=True, dir_okay=False),
    exclude: list[Path] = typer.Option([], "--exclude", help="禁止联系名单（每行一个号码），可多次指定",
                                       exists=True, dir_okay=False),
    encoding: str = typer.Option(None, "--encoding", help="强制编码，如 gbk"),
    actor: str = typer.Option(None, "--as", help="操作人"),
    json_out: bool = JsonOpt,
) -> None:
    """导入当日账户：清洗、校验、去重，逐行说明拒绝原因。"""
    from dunning.services.intake.imports import import_portfolio

    with service(json_out) as ctx:
        if json_out:
            s = import_portfolio(ctx, files, as_of=parse_date(as_of), mapping=mapping, exclude=exclude,
                                 encoding=encoding, actor=acting(ctx, actor, Role.OPERATOR))
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), console=console, transient=True) as bar:
                task = bar.add_task("读取中", total=None)

                def progress(stage: str, done: int, total: int) -> None:
                    bar.update(task, description=stage, completed=done, total=total or None)

                s = import_portfolio(ctx, files, as_of=parse_date(as_of), mapping=mapping, exclude=exclude,
                                     encoding=encoding, actor=acting(ctx, actor, Role.OPERATOR), progress=progress)
    if json_out:
        emit_json({"import_id": s.import_id, "rows": s.rows, "accepted": s.accepted, "rejected": s.rejected,
                   "reasons": s.reasons, "reject_report": s.reject_report, "already_imported": s.already_imported})
        return
    if s.already_imported:
        console.print(f"[yellow]这些文件已于导入批次 #{s.import_id} 导入过，未重复导入。[/]")
    t = intake_table(f"导入 #{s.import_id} · 业务日期 {s.as_of}", "行数", ("读取", "接受", "拒绝"),
                     (s.rows, s.accepted, s.rejected), s.reasons)
    console.print(t)
    if s.reject_report:
        console.print(f"拒绝明细：{s.reject_report}" + (f"（Excel：{s.reject_report_xlsx}）" if s.reject_report_xlsx else ""))


@users_app.command("add")
def users_add(
    username: str,
    role: str = typer.Option(..., "--role", help="admin / strategist / compliance / operator / viewer / agency"),
    password: str = typer.Option(None, "--password", help="控制台登录密码（不填则提示输入）"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码（脚本与管道用）"),
    no_password: bool = typer.Option(False, "--no-password", help="不设密码（只用 API 令牌）"),
    agency: str = typer.Option(None, "--agency", help="委外机构名称（agency 角色必填）"),
    display_name: str = typer.Option("", "--name", help="显示名"),
    json_out: bool = JsonOpt,
) -> None:
    """添加用户（需管理员；全新安装时由安装者添加第一位管理员，其系统用户随即绑定到该管理员）。"""
    from dunning.services.guard.identity import after_user_added
    from dunning.services.identity.users import add_user

    with handled(json_out):
        secret = read_password(password, password_stdin, required=not no_password, json_out=json_out)
        ctx = context()
        who = acting_admin(ctx)
        u = add_user(ctx, username, role, password=secret, display_name=display_name, agency=agency, actor=who)
        after_user_added(ctx, who, username, role)
    if json_out:
        emit_json({"username": u.username, "role": u.role, "agency": u.agency})
    else:
        console.print(f"已添加用户 {u.username}（{zh(u.role)}）")


@users_app.command("list")
def users_list(json_out: bool = JsonOpt) -> None:
    """全部用户、角色与状态。"""
    from dunning.services.identity.auth import list_users

    with handled(json_out):
        rows = list_users(context())
    if json_out:
        emit_json([{"username": u.username, "display_name": u.display_name, "role": u.role, "agency": u.agency,
                    "active": u.active, "locked": u.locked_until is not None, "has_password": u.has_password,
                    "tokens": u.tokens} for u in rows])
        return
    t = Table(title=f"用户（{len(rows)}）")
    for col in ("用户名", "显示名", "角色", "委外机构", "状态", "密码", "令牌"):
        t.add_column(col)
    for u in rows:
        state = "已停用" if not u.active else ("已锁定" if u.locked_until else "启用")
        t.add_row(u.username, u.display_name, zh(u.role), u.agency or "", state,
                  "已设" if u.has_password else "未设", str(u.tokens))
    console.print(t)
    if not rows:
        console.print("还没有用户：dunning users add 用户名 --role admin --password-stdin")


@users_app.command("map-os")
def users_map_os(
    os_user: str = typer.Argument(..., help="操作系统用户名"),
    username: str = typer.Argument(None, help="应用用户名（省略则解除绑定）"),
    json_out: bool = JsonOpt,
) -> None:
    """绑定系统用户与应用用户：该系统用户在命令行上即以此身份操作（需管理员）。
    / Map an OS account to an app user for the CLI (administrators only)."""
    from dunning.services.guard.identity import map_os_user

    with service(json_out) as ctx:
        map_os_user(ctx, os_user, username, actor=acting_admin(ctx))
    if json_out:
        emit_json({"os_user": os_user, "username": username})
    else:
        console.print(f"系统用户 {os_user} → {username}" if username else f"已解除系统用户 {os_user} 的绑定")


@app.command("demo")
def demo(
    accounts: int = typer.Option(20_000, "--accounts", help="样例账户数"),
    json_out: bool = JsonOpt,
) -> None:
    """一条命令演示全流程：生成 → 导入 → 计划 → 合规检查 → 试发 → 第二人审批 → 全量发送 → 报告。"""
    from dunning.services.demo import run_demo

    with handled(json_out):
        if json_out:
            summary = run_demo(accounts=accounts)
        else:
            bar, on_progress = progress_bar()

            def say(msg: str) -> None:
                console.print(f"[cyan]›[/] {msg}")

            with bar:
                summary = run_demo(accounts=accounts, say=say, on_progress=on_progress)
    if json_out:
        emit_json(summary)
        return
    _print_demo(summary)


def _print_demo(s: dict) -> None:  # type: ignore[type-arg]
    imp, c, d = s["import"], s["campaign"], s["delivery"]
    t = intake_table(f"演示结果 · 业务日期 {s['as_of']} · 用时 {s['elapsed_seconds']} 秒", "数量",
                     ("[bold]导入[/] 读取行数", "  接受", "  拒绝"), (imp["rows"], imp["accepted"], imp["rejected"]),
                     imp["rejected_by_reason"], indent="    ")
    t.add_row("[bold]计划[/] 今日应提醒", f"{c['planned'] + c['suppressed']:,}")
    t.add_row("  计划发送", f"{c['planned']:,}")
    t.add_row("  已抑制", f"{c['suppressed']:,}")
    for k, v in sorted(c["suppressed_by_reason"].items(), key=lambda kv: -kv[1]):
        t.add_row(f"    · {zh(k)}", f"{v:,}")
    for k, v in c["by_segment"].items():
        t.add_row(f"  分群 {k}", f"{v:,}")
    for k, v in c["sent_by_template"].items():
        t.add_row(f"  模板 {k}", f"{v:,}")
    t.add_row("[bold]发送[/] 已提交", f"{d['sent']:,}")
    t.add_row("  已送达", f"{d['delivered']:,}")
    t.add_row("  失败", f"{d['failed']:,}")
    t.add_row("  过期", f"{d['expired']:,}")
    for k, v in d["replies"].items():
        t.add_row(f"  回复 {zh(k)}", f"{v:,}")
    console.print(t)
    for line in s["found_existing"]:
        console.print(f"[yellow]已存在：{line}[/]")
    console.print(f"批次 #{c['campaign_id']} 状态：[bold]{zh(c['state'])}[/]")
    if imp["reject_report"]:
        console.print(f"拒绝明细：{imp['reject_report']}")
    console.print(f"报告：{s['report']['html']}（Excel：{s['report']['xlsx']}）")


@app.callback()
def _root(token: str = typer.Option(None, "--token", envvar="DUNNING_TOKEN", show_envvar=True,
                                    help="API 令牌：证明操作人身份 / API token proving who acts")) -> None:
    """dunning — 合规催收短信平台 / compliance-first collection reminder SMS"""
    set_token(token)


def main() -> None:
    from dunning.services.audit import set_origin

    private_umask()  # the data directory and every file written into it: owner-only
    set_origin("cli")  # audit rows of this run: via cli, with the OS user and host
    app()


if __name__ == "__main__":
    main()
