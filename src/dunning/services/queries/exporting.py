"""A list's rows as CSV or Excel (formula-safe, masked like the screen), with an audit event saying who took what."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import polars as pl

from dunning.errors import InputError
from dunning.exports import write_csv, write_xlsx
from dunning.services import audit
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class ExportFile:
    body: bytes
    media_type: str
    filename: str
    rows: int


def export(ctx: AppContext, viewer: Principal, resource: str, frame: pl.DataFrame, fmt: str,
           filters: dict[str, Any], *, sheet: str) -> ExportFile:
    """Serialise ``frame`` and audit the export (``export.<resource>``: the filters and the row count)."""
    if fmt not in FORMATS:
        raise InputError("导出格式应为 csv 或 xlsx", "export format must be csv or xlsx", code="input.format")
    buf = io.BytesIO()
    if fmt == "csv":
        text = io.StringIO()
        write_csv(frame, text)
        buf.write(text.getvalue().encode("utf-8"))
    else:
        write_xlsx(frame, buf, sheet=sheet)
    with ctx.db.transaction() as s:
        audit.record(s, at=ctx.now(), actor=viewer.username, action=f"export.{resource}", entity="export",
                     entity_id=resource, after={"format": fmt, "rows": frame.height,
                                                "filters": {k: str(v) for k, v in filters.items()}})
    stamp = ctx.now().astimezone(ctx.tz).strftime("%Y%m%d-%H%M")
    return ExportFile(buf.getvalue(), FORMATS[fmt], f"{resource}-{stamp}.{fmt}", frame.height)
