"""One snapshot: read every file, map columns, normalise and validate, dedupe across files, split.

Every step is a whole-column Polars operation; the only per-value Python is ``phonenumbers`` on the few
numbers the vectorised rule cannot settle, once per distinct number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl

from dunning.domain.buckets import bucket_expr, dpd_expr
from dunning.errors import InputError
from dunning.intake import parsers
from dunning.intake.codes import REJECT_CODES, REJECT_MESSAGES_EN, REJECT_MESSAGES_ZH
from dunning.intake.columns import CANONICAL, REQUIRED, amount_scale, load_mapping, map_columns
from dunning.intake.readers import RawTable, blank_rows, no_data_rows, read_exclude, read_table

Progress = Callable[[str, int, int], None]

ACCEPTED_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(), "source_row": pl.Int64(), "loan_id": pl.Utf8(), "name": pl.Utf8(),
    "phone": pl.Utf8(), "amount_due_fen": pl.Int64(), "due_date": pl.Date(), "penalty_rate": pl.Float64(),
    "overdue_count": pl.Int32(), "product": pl.Utf8(), "payday": pl.Int8(), "region": pl.Utf8(),
    "agency": pl.Utf8(), "dpd": pl.Int32(), "bucket": pl.Utf8(), "address": pl.Utf8(), "lat": pl.Float64(),
    "lon": pl.Float64(),
}
REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(), "source_row": pl.Int64(), "reason": pl.Utf8(), "message_zh": pl.Utf8(),
    "message_en": pl.Utf8(), "raw": pl.Utf8(),
}

# What "the same content" means for duplicates: every normalised field, so "¥1,234.50" and "1234.5" agree.
_CONTENT = ("name", "phone", "amount_due_fen", "due_date", "penalty_rate", "overdue_count", "product",
            "payday", "region", "agency")


@dataclass(frozen=True)
class IntakeResult:
    """A snapshot split into accepted accounts and explained rejects; ``len(accepted) + len(rejected)
    == rows`` always. Rows are in file order, then row order."""

    rows: int
    accepted: pl.DataFrame
    rejected: pl.DataFrame
    files: list[str]

    @property
    def reasons(self) -> dict[str, int]:
        """Reject code → count, in precedence order, only codes that occurred."""
        if self.rejected.is_empty():
            return {}
        counts = dict(self.rejected.group_by("reason").len().iter_rows())
        return {code: int(counts[code]) for code in REJECT_CODES if code in counts}


def read_portfolio(
    paths: Sequence[Path],
    *,
    as_of: date,
    mapping: Path | None = None,
    exclude: Sequence[Path] = (),
    encoding: str | None = None,
    allow_international: bool = False,
    progress: Progress | None = None,
) -> IntakeResult:
    """Read one snapshot (one or more files) into accepted accounts and explained rejects.

    Raises :class:`~dunning.errors.MissingColumnsError` when a file lacks a required column and
    :class:`~dunning.errors.InputError` for a file, mapping or exclude list that cannot be read at all.
    Fully blank rows (no value in any cell, as Excel leaves below a table) are not data rows and are not
    counted; every other row is either accepted or rejected with exactly one code from
    :data:`REJECT_CODES`, the first that applies.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("没有要导入的文件", "no files to import", code="input.no_files")
    spec = load_mapping(mapping)
    steps = len(paths) + 3
    dnc = read_exclude(exclude) if exclude else None

    tables: list[RawTable] = []
    parts: list[pl.DataFrame] = []
    names = [p.name for p in paths]
    for i, path in enumerate(paths):
        _tick(progress, f"读取 {path.name}", i, steps)
        table = read_table(path, encoding=encoding, spec=spec)
        if names.count(path.name) > 1:  # same name in two folders: the clerk needs to know which file
            table = replace(table, name=str(path) + table.name[len(path.name):])
        tables.append(table)
        part = _canonical(table, i, spec_map=map_columns(table.frame.columns, table.name, spec))
        if part.is_empty():
            raise no_data_rows(table.name)
        parts.append(part)
    df = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    del parts
    rows = df.height

    _tick(progress, "校验", len(paths), steps)
    df = _validate(df, allow_international)
    _tick(progress, "去重", len(paths) + 1, steps)
    reason = _dedupe(df)
    if dnc is not None and dnc.len():
        reason = pl.select(
            pl.when(pl.lit(reason).is_null() & pl.lit(df["phone"]).is_in(dnc.implode()))
            .then(pl.lit("do_not_contact")).otherwise(pl.lit(reason))
        ).to_series()
    df = df.with_columns(reason.alias("reason"))

    _tick(progress, "整理结果", len(paths) + 2, steps)
    accepted = (
        df.filter(pl.col("reason").is_null())
        .select(
            "source_file", "source_row", "loan_id", "name", "phone", "amount_due_fen", "due_date",
            "penalty_rate", "overdue_count", "product", "payday", "region", "agency", "address", "lat", "lon",
        )
        .with_columns(dpd_expr("due_date", as_of).alias("dpd"))
        .with_columns(bucket_expr("dpd").alias("bucket"))
        .cast(ACCEPTED_SCHEMA)  # type: ignore[arg-type]
    )
    rejected = _rejected(df.filter(pl.col("reason").is_not_null()), tables)
    _tick(progress, "完成", steps, steps)
    return IntakeResult(rows=rows, accepted=accepted, rejected=rejected, files=[str(p) for p in paths])


def _tick(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _canonical(table: RawTable, file_index: int, *, spec_map: dict[str, str]) -> pl.DataFrame:
    """The file's rows under canonical names (still text), with where each came from."""
    frame = table.frame
    n = frame.height
    columns = [
        (pl.col(spec_map[c]).cast(pl.Utf8) if c in spec_map else pl.lit(None, pl.Utf8)).alias(c) for c in CANONICAL
    ]
    out = frame.select(
        pl.lit(table.name, pl.Utf8).alias("source_file"),
        (pl.int_range(n, dtype=pl.Int64) + table.first_row).alias("source_row"),
        pl.lit(file_index, pl.Int32).alias("_file"),
        pl.int_range(n, dtype=pl.Int64).alias("_row"),
        pl.lit(amount_scale(spec_map["amount_due"]), pl.Int64).alias("_scale"),
        *columns,
    )
    if table.excel:
        out = out.with_columns(parsers.excel_serial_to_iso(out["due_date"]).alias("due_date"))
    blanks = pl.DataFrame([parsers.is_blank(out[c]) for c in REQUIRED])
    out = out.with_columns(blanks.select(pl.any_horizontal(pl.all())).to_series().alias("_missing"))
    # Drop rows with no value in any cell of the original file (Excel's formatted-but-empty tail).
    maybe = blanks.select(pl.all_horizontal(pl.all())).to_series().arg_true()
    if maybe.len():
        drop = maybe.filter(blank_rows(frame[maybe]))
        if drop.len():
            out = out.filter(pl.repeat(True, n, eager=True).scatter(drop, False))
    return out


def _text(s: pl.Series) -> pl.Series:
    """Optional free text: trimmed, empty → null."""
    t = s.str.strip_chars()
    return pl.select(pl.when(pl.lit(t) != "").then(pl.lit(t))).to_series().rename(s.name)


def _coordinate(s: pl.Series, limit: float) -> pl.Series:
    """Optional decimal degrees; null when blank, unparseable or out of range (a visit then has no geofence)."""
    v = s.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.select(pl.when(pl.lit(v).abs() <= limit).then(pl.lit(v))).to_series().rename(s.name)


def _validate(df: pl.DataFrame, allow_international: bool) -> pl.DataFrame:
    """Normalised values plus the first per-row reject code (dedupe and do-not-contact come later)."""
    missing = df["_missing"]
    phones = parsers.parse_phones(df["phone"], allow_international=allow_international)
    fen = parsers.parse_amounts(df["amount_due"])
    if (df["_scale"] != 1).any():
        fen = pl.select(pl.lit(fen) * pl.lit(df["_scale"])).to_series()
    due = parsers.parse_dates(df["due_date"])
    loan = df["loan_id"].str.strip_chars()
    non_ascii = (loan.str.len_bytes() != loan.str.len_chars()).fill_null(False)
    if non_ascii.any():
        ascii_loan = pl.lit(parsers.to_ascii(loan))
        loan = pl.select(pl.when(pl.lit(non_ascii)).then(ascii_loan).otherwise(pl.lit(loan))).to_series()
    reason = pl.select(
        pl.when(pl.lit(missing)).then(pl.lit("missing_field"))
        .when(pl.lit(phones["reject"]).is_not_null()).then(pl.lit(phones["reject"]))
        .otherwise(pl.lit(parsers.amount_reject(fen)))
    ).to_series()
    reason = pl.select(
        pl.when(pl.lit(reason).is_null() & pl.lit(due).is_null()).then(pl.lit("invalid_date"))
        .otherwise(pl.lit(reason))
    ).to_series()
    return pl.DataFrame({
        "source_file": df["source_file"],
        "source_row": df["source_row"],
        "_file": df["_file"],
        "_row": df["_row"],
        "loan_id": loan,
        "name": _text(df["name"]),
        "phone": phones["phone"],
        "amount_due_fen": fen.cast(pl.Int64),
        "due_date": due,
        "penalty_rate": parsers.parse_rates(df["penalty_rate"]),
        "overdue_count": parsers.parse_ints(df["overdue_count"]).fill_null(0).cast(pl.Int32),
        "product": _text(df["product"]),
        "payday": parsers.parse_paydays(df["payday"]),
        "region": _text(df["region"]),
        "agency": _text(df["agency"]),
        "address": _text(df["address"]),
        "lat": _coordinate(df["latitude"], 90.0),
        "lon": _coordinate(df["longitude"], 180.0),
        "reason": reason,
    })


def _dedupe(df: pl.DataFrame) -> pl.Series:
    """Reasons with ``conflicting_duplicate`` and ``duplicate`` added, judged among rows valid so far.

    A loan id seen with different content anywhere in the snapshot rejects all its valid rows (nobody can
    tell which is right); otherwise repeats of the first row are ``duplicate``. Only rows whose loan id
    repeats are looked at closely, so a clean portfolio pays for one hash pass.
    """
    reason = df["reason"]
    valid = reason.is_null().arg_true()
    # Hashes first (cheap, and a collision only adds a candidate); exact comparison on the few candidates.
    repeated = df["loan_id"].gather(valid).hash(seed=7).is_duplicated()
    idx = valid.filter(repeated)
    if idx.len() == 0:
        return reason
    cand = df[idx].select("loan_id", *_CONTENT).with_columns(pl.Series("_pos", idx))
    judged = cand.select(
        "_pos",
        pl.when(pl.struct(_CONTENT).n_unique().over("loan_id") > 1).then(pl.lit("conflicting_duplicate"))
        .when(pl.int_range(pl.len()).over("loan_id") > 0).then(pl.lit("duplicate"))
        .alias("code"),
    )
    return reason.clone().scatter(judged["_pos"], judged["code"])


def _rejected(bad: pl.DataFrame, tables: Sequence[RawTable]) -> pl.DataFrame:
    """Reject rows with messages and the original cells as JSON keyed by original header."""
    raws: list[pl.Series] = []
    for i, table in enumerate(tables):
        rows = bad.filter(pl.col("_file") == i)["_row"]
        if rows.len() == 0:
            continue
        original = table.frame[rows]
        if original.width == 0:
            raws.append(pl.Series("raw", ["{}"] * rows.len(), dtype=pl.Utf8))
        else:
            raws.append(original.select(pl.struct(pl.all()).struct.json_encode().alias("raw")).to_series())
    raw = pl.concat(raws) if raws else pl.Series("raw", [], dtype=pl.Utf8)
    return bad.select(
        "source_file",
        "source_row",
        "reason",
        pl.col("reason").replace_strict(REJECT_MESSAGES_ZH, return_dtype=pl.Utf8).alias("message_zh"),
        pl.col("reason").replace_strict(REJECT_MESSAGES_EN, return_dtype=pl.Utf8).alias("message_en"),
    ).with_columns(raw.alias("raw")).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]


__all__ = ["REJECTED_SCHEMA", "IntakeResult", "read_portfolio"]
