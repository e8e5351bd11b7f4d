"""`dunning payments …`: import repayments (they stop reminders right before sending)."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

from pathlib import Path

import typer

from dunning.entrypoints.cli.common import acting, console, context, emit_json, handled, intake_table
from dunning.services.identity.users import Role

app = typer.Typer(help="还款记录：导入后，发送前会再次核对，已还清的借款不再提醒", no_args_is_help=True)


@app.callback()
def payments() -> None:
    """还款记录 / payments (a group, so `dunning payments import` keeps its name with one command)."""


@app.command("import")
def import_(
    files: list[Path] = typer.Argument(..., help="还款文件（CSV/XLSX/Parquet），可多个", exists=True),
    encoding: str = typer.Option(None, "--encoding", help="强制编码，如 gbk"),
    actor: str = typer.Option(None, "--as", help="操作人"),
    json_out: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """导入还款记录：清洗、校验、去重，逐行说明拒绝原因。

    必需的列 Required columns: 借款编号 loan_id、还款金额 amount（¥1,234.50、800、2000.00元 均可）、
    还款时间 paid_at（2026-11-22 10:15、2026年11月21日 均可）。常见中英文表头都能识别；
    示例 example: examples/repayments.csv
    """
    from dunning.services.intake.payments import import_payments

    with handled(json_out):
        s = import_payments(ctx := context(), files, actor=acting(ctx, actor, Role.OPERATOR), encoding=encoding)
    if json_out:
        emit_json(s.to_dict())
        return
    if s.already_imported:
        console.print(f"[yellow]这些文件已于还款导入 #{s.import_id} 导入过（{s.accepted:,} 笔），未重复导入，"
                      "还款记录没有变化。[/]")
        return
    if s.rows and s.accepted == 0 and set(s.reasons) == {"duplicate"}:
        console.print(f"[yellow]这 {s.rows:,} 笔还款此前都已导入（同一借款、时间与金额），没有新增还款。[/]")
    t = intake_table(f"还款导入 #{s.import_id} · Payments import", "数量", ("读取 rows", "接受 accepted", "拒绝 rejected"),
                     (s.rows, s.accepted, s.rejected), s.reasons)
    t.add_row("金额合计 total", f"{s.total_fen / 100:,.2f} 元")
    t.add_row("涉及借款 loans", f"{s.loans:,}")
    if s.unknown_loans:
        t.add_row("  不在最近一次账户导入中 not in latest portfolio", f"{s.unknown_loans:,}")
    t.add_row("待发送短信将复核 open messages re-checked", f"{s.open_messages:,}")
    console.print(t)
    if s.reject_report:
        console.print(f"拒绝明细：{s.reject_report}" + (f"（Excel：{s.reject_report_xlsx}）" if s.reject_report_xlsx else ""))
