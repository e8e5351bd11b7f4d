"""`dunning calendar …`: load next year's statutory holidays the day they are announced; show a year."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from dunning.entrypoints.cli.common import acting, console, context, emit_json, handled

app = typer.Typer(help="节假日日历：导入国务院公布的节假日安排（新的一年），查看某一年", no_args_is_help=True)

WEEKDAY_ZH = "一二三四五六日"


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="一年的节假日文件（CSV：kind,name,first,last；见 docs/calendar.md）",
                                exists=True, dir_okay=False),
    actor: str = typer.Option(None, "--as", help="操作人"),
    json_out: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """导入一年的节假日与调休上班日（校验：不重叠、调休日为周末、节日名称有效；记入审计）。"""
    from dunning.services.calendar import import_calendar

    with handled(json_out):
        text = file.read_text(encoding="utf-8-sig")
        r = import_calendar(ctx := context(), text, source_name=file.name, actor=acting(ctx, actor))
    if json_out:
        emit_json(r.to_dict())
    elif r.unchanged:
        console.print(f"{r.year} 年节假日与已导入的内容相同，未改动。")
    else:
        verb = "已替换" if r.replaced else "已导入"
        console.print(f"{verb} {r.year} 年节假日：{r.holidays} 个假期，{r.workdays} 个调休上班日。"
                      f"（{'replaced' if r.replaced else 'imported'} {r.year}: {r.holidays} holidays, "
                      f"{r.workdays} make-up working days）")


@app.command("show")
def show(
    year: int = typer.Argument(..., help="年份，如 2027"),
    json_out: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """查看某一年的节假日与调休上班日，以及数据来源（内置 / 导入）。"""
    from dunning.services.calendar import show_year

    with handled(json_out):
        v = show_year(context(), year)
    if json_out:
        emit_json(v.to_dict())
        return
    src = f"导入 imported（{v.imported_by}，{v.imported_at:%Y-%m-%d %H:%M}）" if v.source == "imported" and v.imported_at \
        else "内置 shipped"
    t = Table(title=f"{year} 年节假日 · Holidays · 来源 {src}")
    for col in ("类型", "节日", "日期", "天数"):
        t.add_column(col)
    d = v.data.to_dict()
    for h in d["holidays"]:  # type: ignore[attr-defined]
        t.add_row("放假 holiday", f"{h['name_zh']} {h['name']}", f"{h['first']} ～ {h['last']}", str(h["days"]))
    for w in d["workdays"]:  # type: ignore[attr-defined]
        t.add_row("调休上班 make-up", f"{w['name_zh']} {w['name']}", f"{w['day']}（周{WEEKDAY_ZH[w['weekday'] - 1]}）", "1")
    console.print(t)
