"""Reject details for roles that see masked phones: every mobile number and every name cell masked, in the
import page's samples and in the downloaded reject report alike (issue 17.10)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl

from dunning.domain.masking import mask_name, mask_name_expr
from dunning.exports import write_csv, write_xlsx
from dunning.intake import ALIASES

_MOBILE = r"(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})"
_MOBILE_RE = re.compile(r"(?<!\d)" + _MOBILE + r"(?!\d)")
_NAME_HEADERS = frozenset(h.lower() for h in ALIASES["name"]) | {"原始 name", "原始 姓名"}


def _is_name(header: str) -> bool:
    return header.strip().lower() in _NAME_HEADERS


def _mask_mobiles(text: str) -> str:
    return _MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_raw_row(raw: str) -> str:
    """A reject row's original cells (JSON ``{header: value}``) with names and mobile numbers masked."""
    try:
        cells = json.loads(raw)
    except ValueError:
        return _mask_mobiles(raw)
    if not isinstance(cells, dict):
        return _mask_mobiles(raw)
    out = {k: (mask_name(str(v)) if _is_name(str(k)) and v else _mask_mobiles(str(v)) if v is not None else v)
           for k, v in cells.items()}
    return json.dumps(out, ensure_ascii=False)


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column with mobiles masked; name columns reduced to their first character."""
    exprs = []
    for c in frame.columns:
        if frame.schema[c] != pl.Utf8:
            continue
        if _is_name(c):
            exprs.append(pl.when(pl.col(c).is_null()).then(None).otherwise(mask_name_expr(c)).alias(c))
        else:
            exprs.append(pl.col(c).str.replace_all(r"(^|[^0-9])" + _MOBILE + r"([^0-9]|$)", "${1}${2}****${3}${4}")
                         .alias(c))
    return frame.with_columns(exprs) if exprs else frame


def masked_report(path: Path, fmt: str) -> bytes:
    """The reject report at ``path`` (``csv`` or ``xlsx``) with names and mobile numbers masked."""
    if fmt == "csv":
        frame = pl.read_csv(path.read_bytes(), infer_schema=False)
    else:
        frame = pl.read_excel(path, engine="calamine", read_options={"dtypes": "string"})
    frame = mask_frame(frame)
    buf = io.BytesIO()
    if fmt == "csv":
        # the stored file is already neutralised; strip the apostrophes so they are not doubled
        frame = frame.with_columns(pl.col(c).str.strip_prefix("'") for c in frame.columns
                                   if frame.schema[c] == pl.Utf8)
        write_csv(frame, buf)
    else:
        write_xlsx(frame, buf, "拒绝明细")
    return buf.getvalue()
