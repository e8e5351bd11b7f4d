"""`dunning imports list`: every import, accounts and payments (one numbering for both)."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import typer
from rich.table import Table

from dunning.entrypoints.cli.common import console, context, emit_json, handled, parse_date

app = typer.Typer(help="导入记录（账户与还款共用一个编号）", no_args_is_help=True)


@app.callback()
def imports() -> None:
    """导入记录 / imports."""


@app.command("list")
def list_(
    kind: str = typer.Option(None, "--kind", help="portfolio（账户）或 payments（还款）"),
    since: str = typer.Option(None, "--since", help="业务日期起 YYYY-MM-DD"),
    until: str = typer.Option(None, "--until", help="业务日期止 YYYY-MM-DD"),
    page: int = typer.Option(1, "--page", min=1),
    json_out: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """最近的导入（账户导入可用于 campaign plan --import）。"""
    from dunning.services.queries.imports import ImportFilter, list_imports
    from dunning.services.queries.paging import PageRequest

    with handled(json_out):
        lp = list_imports(context(), ImportFilter(kind, parse_date(since), parse_date(until)),
                          PageRequest.of(page, 50))
    if json_out:
        emit_json({"total": lp.total, "page": lp.page, "pages": lp.pages,
                   "items": [{"import_id": i.import_id, "kind": i.kind, "as_of": i.as_of.isoformat(),
                              "files": i.files, "rows": i.rows, "accepted": i.accepted, "rejected": i.rejected,
                              "created_by": i.created_by} for i in lp.items]})
        return
    t = Table(title=f"导入记录（共 {lp.total} 条，第 {lp.page}/{lp.pages} 页）")
    for col in ("#", "类型", "业务日期", "文件", "接受", "拒绝", "操作人"):
        t.add_column(col)
    for i in lp.items:
        t.add_row(str(i.import_id), i.kind_zh, i.as_of.isoformat(), "、".join(i.files), f"{i.accepted:,}",
                  f"{i.rejected:,}", i.created_by)
    console.print(t)
