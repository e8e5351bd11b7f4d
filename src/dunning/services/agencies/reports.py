"""The tender report (score sheet, evaluator matrix, conflicts, award) as tables for the HTML page and as an
Excel workbook (the shared safe writer, :mod:`dunning.exports`, as the campaign report); commission statements as
CSV or XLSX."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dunning.errors import InputError
from dunning.exports import write_csv, write_xlsx, write_xlsx_sheets
from dunning.services.agencies.evaluation import METHOD_EN, METHOD_ZH, ScoreSheet, score_sheet
from dunning.services.context import AppContext


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    frame: pl.DataFrame
    sheet: str


def _fmt(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, list):
        return "、".join(str(x) for x in v) or "—"
    return str(v)


def _table(title: str, sheet: str, frame: pl.DataFrame) -> Table:
    return Table(title, list(frame.columns), [[_fmt(v) for v in row] for row in frame.iter_rows()], frame, sheet)


def tender_tables(sheet: ScoreSheet) -> list[Table]:
    lots = {lot["id"]: lot["name"] for lot in sheet.lots}
    out: list[Table] = []
    if sheet.sheet.height:
        cols = [pl.col("lot_id").replace_strict(lots, return_dtype=pl.Utf8).alias("标段 lot"),
                pl.col("rank").alias("排名 rank"), pl.col("agency").alias("机构 agency"),
                pl.col("total").alias("加权总分 total")]
        for c in sheet.criteria:
            cols.append(pl.col(f"n_{c.key}").round(2).alias(f"{c.label_zh or c.key} ({c.weight:g}%)"))
        cols += [pl.col("commission_rate").alias("佣金费率 rate"), pl.col("capacity").alias("承接能力 capacity"),
                 pl.col("past_recovery_rate").round(4).alias("历史回收率 past recovery"),
                 pl.col("history_source").replace({"declared": "投标声明 declared", "measured": "实测 measured"})
                 .alias("历史数据来源 source"),
                 pl.col("flags").list.join("、").alias("评委分歧 flags")]
        out.append(_table("评分表 Score sheet", "评分 scores", sheet.sheet.select(cols)))
        out.append(_table("得分说明 How each total was reached", "说明 explanations", sheet.sheet.select(
            pl.col("lot_id").replace_strict(lots, return_dtype=pl.Utf8).alias("标段 lot"),
            pl.col("rank").alias("排名 rank"), pl.col("agency").alias("机构 agency"),
            pl.col("explain").alias("说明 explanation"))))
    if sheet.matrix.height:
        bid_agency = dict(zip(sheet.sheet["bid_id"].to_list(), sheet.sheet["agency"].to_list(), strict=True))
        labels = {c.key: c.label_zh or c.key for c in sheet.criteria}
        m = sheet.matrix.with_columns(pl.col("bid_id").replace_strict(bid_agency, return_dtype=pl.Utf8)
                                      .alias("bid_id"), pl.col("criterion").replace(labels)).rename({"bid_id": "机构 agency", "criterion": "评分项 criterion"})
        out.append(_table("评委独立评分 Evaluators' scores", "评委 evaluators", m))
    if sheet.conflicts:
        out.append(_table("利益冲突声明 Conflicts of interest", "冲突 conflicts", pl.DataFrame(
            {"评委 evaluator": [c["evaluator"] for c in sheet.conflicts],
             "机构 agency": [c["agency"] for c in sheet.conflicts], "说明 note": [c["note"] for c in sheet.conflicts]})))
    if sheet.awards:
        out.append(_table("授标 Award", "授标 award", pl.DataFrame(
            {"标段 lot": [lots.get(a["lot_id"], str(a["lot_id"])) for a in sheet.awards],
             "机构 agency": [a["agency"] for a in sheet.awards],
             "份额 share": [a["share"] for a in sheet.awards],
             "佣金费率 rate": [a["commission_rate"] for a in sheet.awards]})))
    return out


def tender_xlsx(ctx: AppContext, tender_id: int) -> Path:
    sheet = score_sheet(ctx, tender_id)
    out = ctx.data_dir / "reports" / f"tender-{tender_id}.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = pl.DataFrame({"招标 tender": [sheet.title], "状态 state": [sheet.state_zh], "评委 evaluators":
                            ["、".join(sheet.evaluators)], "审批人 approved by": [sheet.approved_by or "—"],
                            "方法 method": [METHOD_ZH + " / " + METHOD_EN]})
    # the shared writer: bidders' names and texts can never run as formulas
    write_xlsx_sheets({"概要 summary": summary, **{t.sheet: t.frame for t in tender_tables(sheet)}}, out)
    return out


def commission_file(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    shown = frame.select(pl.col("agency").alias("机构 agency"), pl.col("bucket").alias("账龄 bucket"),
                         pl.col("payers").alias("还款户数 payers"),
                         (pl.col("recovered_fen") / 100).alias("回收金额（元）recovered (yuan)"),
                         pl.col("rate").alias("佣金费率 rate"),
                         (pl.col("commission_fen") / 100).alias("佣金（元）commission (yuan)"))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        write_csv(shown, path)
    elif fmt == "xlsx":
        write_xlsx(shown, path, "佣金 commission")
    else:
        raise InputError("格式应为 csv 或 xlsx", "format must be csv or xlsx", code="input.format")
    return path
