"""Payments import: repayments from the loan system, the single store of who paid what and when.

Planning suppresses a step as ``paid`` when the payments since the portfolio snapshot cover the amount due,
and the dispatcher checks the same right before each batch, so a payment imported between planning and
sending stops the message. Outcome reporting reads the same ``payments`` rows.

Files: CSV/TSV (UTF-8, BOM, GBK/GB18030), Excel or Parquet with a loan id, an amount and a payment time (Chinese
or English headers). Values are read with intake's parsers, so ``¥1,234.50``, ``1234.5元`` and full-width digits
are all the same amount. Rows that cannot be used are rejected with intake's codes where one applies
(``missing_field``, ``invalid_amount``, ``nothing_due``, ``invalid_date``, ``duplicate``) and written to a reject
report; nothing is dropped silently: ``accepted + rejected == rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, select, text

from dunning.db.bulk import bulk_insert, read_frame
from dunning.db.models import Import, Payment, RejectRow
from dunning.db.types import frame_times
from dunning.errors import InputError
from dunning.intake import ALIASES, parse_amounts, parse_dates, write_reject_report
from dunning.intake.columns import normalise_header
from dunning.intake.parsers import excel_serial_to_iso, is_blank, to_ascii
from dunning.intake.readers import blank_rows, no_data_rows, read_table
from dunning.services import audit
from dunning.services.cases.intake import resolve_paid
from dunning.services.cases.policy import load_case_policy
from dunning.services.context import AppContext
from dunning.services.intake.fingerprint import content_shas

PAYMENT_ALIASES: dict[str, tuple[str, ...]] = {
    "loan_id": ALIASES["loan_id"],
    "amount": ("amount", "paid_amount", "payment_amount", "repayment_amount", "repaid_amount", "amount_paid",
               "还款金额", "实还金额", "已还金额", "入账金额", "交易金额", "金额", "本次还款金额"),
    "paid_at": ("paid_at", "paid_time", "payment_time", "payment_date", "repaid_at", "repayment_time",
                "repayment_date", "paid_on", "还款时间", "还款日期", "实还时间", "实还日期", "入账时间", "入账日期",
                "交易时间", "交易日期"),
}
REQUIRED = ("loan_id", "amount", "paid_at")
LABELS_ZH = {"loan_id": "借款编号", "amount": "还款金额", "paid_at": "还款时间"}
# Intake's codes where they apply, in the order they are judged.
PAYMENT_REJECT_CODES = ("missing_field", "invalid_amount", "nothing_due", "invalid_date", "duplicate")
MESSAGES_ZH = {
    "missing_field": "借款编号、还款金额或还款时间为空：请在源系统补齐后重新导出本行。",
    "invalid_amount": "还款金额无法识别或为负数：请填写数字金额（可带 ¥、元、千分位逗号）。",
    "nothing_due": "还款金额为 0：不是一笔还款，未导入。",
    "invalid_date": "还款时间无法识别、不存在或晚于当前时间：请使用 2026-11-23 14:05:00 或 2026/11/23 等写法。",
    "duplicate": "与已导入的还款完全相同（同一借款、时间、金额）：已保留先前的一笔，本行无需处理。",
}
MESSAGES_EN = {
    "missing_field": "Loan id, amount or payment time is empty: complete it in the source system and re-export.",
    "invalid_amount": "Amount is not a number or is negative: write a plain amount (¥, 元 and separators are fine).",
    "nothing_due": "Amount is zero: not a payment, not imported.",
    "invalid_date": "Payment time not recognised, impossible or in the future: write 2026-11-23 14:05:00 or "
    "2026/11/23.",
    "duplicate": "The same payment (loan, time, amount) was already imported: the earlier one was kept.",
}
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H时%M分",
    "%Y%m%d%H%M%S", "%Y%m%d %H:%M:%S",
)
_TZ_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%:z", "%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%dT%H:%M:%SZ")
UTC_US = pl.Datetime("us", "UTC")


@dataclass
class PaymentImportSummary:
    import_id: int
    rows: int
    accepted: int
    rejected: int
    reasons: dict[str, int]
    total_fen: int
    loans: int
    unknown_loans: int  # loans in no imported portfolio (kept: they may belong to another product's book)
    open_messages: int  # planned or queued messages of these loans, re-checked before they are sent
    reject_report: str | None = None
    reject_report_xlsx: str | None = None
    already_imported: bool = False
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _map_columns(frame: pl.DataFrame, file: str) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for c in frame.columns:
        by_norm.setdefault(normalise_header(c), c)
    found: dict[str, str] = {}
    for canon, aliases in PAYMENT_ALIASES.items():
        for alias in aliases:
            if (hit := by_norm.get(normalise_header(alias))) is not None:
                found[canon] = hit
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        zh = "、".join(f"{c}（如 {LABELS_ZH[c]}）" for c in missing)
        en = ", ".join(missing)
        have = "、".join(frame.columns) or "（无）"
        raise InputError(f"文件 {file} 缺少必需的列：{zh}。文件中找到的列：{have}。",
                         f"{file} lacks required columns: {en}. Columns found: {', '.join(frame.columns)}.",
                         code="input.missing_columns")
    return found


def parse_paid_at(raw: pl.Series, tz: str, *, excel: bool = False) -> pl.Series:
    """Payment times as written → UTC instants; a bare date is local midnight of ``tz``; null when unusable.

    Times without an offset are wall-clock times in ``tz`` (the business zone); ISO times with an offset or
    ``Z`` are taken as given. In workbooks a five-digit serial (``46349.6``) is a date with its time of day.
    """
    text = to_ascii(raw.cast(pl.Utf8)).str.replace_all(r"\s+", " ")
    frame = pl.DataFrame({"t": text})
    naive = pl.coalesce([pl.col("t").str.to_datetime(f, time_unit="us", strict=False) for f in _DATETIME_FORMATS])
    aware = pl.coalesce([pl.col("t").str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False)
                         for f in _TZ_FORMATS])
    out = frame.select(
        pl.coalesce(aware, naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
                    .dt.convert_time_zone("UTC")).alias("at")
    )["at"]
    if excel:
        serial = text.str.contains(r"^[0-9]{5}\.[0-9]+$").fill_null(False)
        fraction = text.str.extract(r"(\.[0-9]+)$").cast(pl.Float64, strict=False).fill_null(0.0)
        days = pl.select(pl.lit(excel_serial_to_iso(text)).str.to_date("%Y-%m-%d", strict=False)).to_series()
        at = pl.select(
            (pl.lit(days).cast(pl.Datetime("us")) + pl.duration(seconds=(pl.lit(fraction) * 86400).round(0)
                                                               .cast(pl.Int64)))
            .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
        ).to_series()
        out = pl.select(pl.when(pl.lit(serial)).then(pl.lit(at)).otherwise(pl.lit(out))).to_series()
    dates = parse_dates(raw)
    midnight = pl.select(pl.lit(dates).cast(pl.Datetime("us")).dt.replace_time_zone(tz, ambiguous="earliest",
                                                                                     non_existent="null")
                         .dt.convert_time_zone("UTC")).to_series()
    return pl.select(pl.coalesce(pl.lit(out), pl.lit(midnight))).to_series().cast(UTC_US).rename("paid_at")


def _read(paths: Sequence[Path], tz: str, encoding: str | None) -> pl.DataFrame:
    frames = []
    for path in paths:
        table = read_table(path, encoding=encoding)
        df = table.frame
        cols = _map_columns(df, path.name)
        raw_json = (pl.struct([pl.col(c) for c in df.columns]).struct.json_encode() if df.columns
                    else pl.lit("{}"))
        base = df.select(
            pl.lit(path.name).alias("source_file"),
            (pl.int_range(pl.len(), dtype=pl.Int64) + table.first_row).alias("source_row"),
            raw_json.alias("raw"),
            pl.col(cols["loan_id"]).cast(pl.Utf8).alias("_loan"),
            pl.col(cols["amount"]).cast(pl.Utf8).alias("_amount"),
            pl.col(cols["paid_at"]).cast(pl.Utf8).alias("_paid"),
        )
        base = base.filter(~blank_rows(df))  # blank lines are not rows; the others keep their line numbers
        if base.is_empty():
            raise no_data_rows(path.name)
        frames.append(base.with_columns(
            (is_blank(base["_loan"]) | is_blank(base["_amount"]) | is_blank(base["_paid"])).alias("_missing"),
            to_ascii(base["_loan"]).alias("loan_id"),
            parse_amounts(base["_amount"]).alias("amount_fen"),
            parse_paid_at(base["_paid"], tz, excel=table.excel).alias("paid_at"),
        ))
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame()


def import_payments(ctx: AppContext, paths: Sequence[Path], *, actor: str = "system",
                    encoding: str | None = None) -> PaymentImportSummary:
    """Import one or more payment files. The same files again (by content, whatever their names) return the earlier import; a payment already
    stored (same loan, time and amount) is rejected as ``duplicate``, never counted twice."""
    paths = [Path(p) for p in paths]
    sha, earlier_sha = content_shas(b"payments", paths)
    with ctx.db.transaction() as s:
        existing = s.scalars(select(Import).where(Import.content_sha.in_((sha, earlier_sha)),
                                                  Import.kind == "payments").order_by(Import.id)).first()
        if existing is not None:
            return PaymentImportSummary(existing.id, existing.rows, existing.accepted, existing.rejected,
                                        dict(existing.reasons), _stored_total(s, existing.id), 0, 0, 0,
                                        existing.reject_report, None, True, list(existing.files))
    tz = ctx.settings.timezone
    now = ctx.now()
    df = _read(paths, tz, encoding)
    rows = df.height
    df = df.with_columns(
        pl.when(pl.col("_missing")).then(pl.lit("missing_field"))
        .when(pl.col("amount_fen").is_null() | (pl.col("amount_fen") < 0)).then(pl.lit("invalid_amount"))
        .when(pl.col("amount_fen") == 0).then(pl.lit("nothing_due"))
        .when(pl.col("paid_at").is_null() | (pl.col("paid_at") > pl.lit(now).cast(UTC_US))).then(pl.lit("invalid_date"))
        .otherwise(pl.lit(None, pl.Utf8)).alias("reason"),
        pl.int_range(pl.len()).alias("_order"),
    )
    with ctx.db.transaction() as s:
        # Exact repeats within the files, then payments already stored.
        valid = pl.col("reason").is_null()
        first = pl.col("_order") == pl.col("_order").min().over("loan_id", "paid_at", "amount_fen")
        df = df.with_columns(pl.when(valid & ~first).then(pl.lit("duplicate")).otherwise(pl.col("reason"))
                             .alias("reason"))
        candidates = df.filter(pl.col("reason").is_null())
        if candidates.height:
            since = candidates["paid_at"].min()
            assert isinstance(since, datetime)  # nosec B101  # narrows a type for mypy; the invariant holds by construction
            stored = read_frame(
                s, "SELECT loan_id, paid_at, amount_fen FROM payments WHERE paid_at >= :since",
                {"since": since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                 if s.connection().dialect.name == "sqlite" else since},
                schema={"loan_id": pl.Utf8, "paid_at": pl.Utf8 if s.connection().dialect.name == "sqlite"
                        else UTC_US, "amount_fen": pl.Int64},
            )
            if stored.height:
                if stored.schema["paid_at"] == pl.Utf8:
                    stored = stored.with_columns(pl.col("paid_at").str.to_datetime(
                        "%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False).dt.replace_time_zone("UTC"))
                stored = stored.with_columns(pl.col("paid_at").cast(UTC_US), pl.lit(True).alias("_stored"))
                df = df.join(stored, on=["loan_id", "paid_at", "amount_fen"], how="left").with_columns(
                    pl.when(pl.col("reason").is_null() & pl.col("_stored").fill_null(False)).then(pl.lit("duplicate"))
                    .otherwise(pl.col("reason")).alias("reason")).drop("_stored")
        accepted = df.filter(pl.col("reason").is_null())
        rejected = df.filter(pl.col("reason").is_not_null()).select(
            "source_file", "source_row", "reason",
            pl.col("reason").replace_strict(MESSAGES_ZH, return_dtype=pl.Utf8).alias("message_zh"),
            pl.col("reason").replace_strict(MESSAGES_EN, return_dtype=pl.Utf8).alias("message_en"),
            "raw",
        ).sort("source_file", "source_row")
        reasons = {c: n for c in PAYMENT_REJECT_CODES
                   if (n := int(rejected.filter(pl.col("reason") == c).height))}
        total = int(accepted["amount_fen"].sum() or 0)
        imp = Import(kind="payments", as_of=now.astimezone(ctx.tz).date(), files=[str(p) for p in paths], rows=rows,
                     accepted=accepted.height, rejected=rejected.height, reasons=reasons,
                     content_sha=sha, created_by=actor, created_at=now)
        s.add(imp)
        s.flush()
        bulk_insert(s, Payment.__table__, frame_times(s.connection().dialect.name, accepted.select(  # type: ignore[arg-type]
            pl.lit(imp.id).alias("import_id"), "loan_id", "amount_fen", "paid_at"), ["paid_at"]))
        bulk_insert(s, RejectRow.__table__, rejected.select(  # type: ignore[arg-type]
            pl.lit(imp.id).alias("import_id"), "source_file", "source_row", "reason", "message_zh", "raw"))
        csv_path = xlsx_path = None
        if rejected.height:
            csv_p, xlsx_p = write_reject_report(rejected, ctx.data_dir / "reports" / f"payments-{imp.id}-rejects")
            csv_path, xlsx_path = str(csv_p), str(xlsx_p)
            imp.reject_report = csv_path
        loans = accepted["loan_id"].unique()
        known, open_msgs = _known_and_open(s, loans)
        # A borrower's "already paid" case closes by itself once a repayment for one of its loans arrives.
        resolve_paid(s, loans.to_list(), load_case_policy(ctx.settings.policy_profile), now, import_id=imp.id)
        audit.record(s, at=now, actor=actor, action="payments.import", entity="import", entity_id=imp.id,
                     after={"rows": rows, "accepted": accepted.height, "rejected": rejected.height,
                            "reasons": reasons, "total_fen": total, "files": [p.name for p in paths]})
        return PaymentImportSummary(imp.id, rows, accepted.height, rejected.height, reasons, total, loans.len(),
                                    loans.len() - known, open_msgs, csv_path, xlsx_path, False,
                                    [str(p) for p in paths])


def _stored_total(s: Any, import_id: int) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(Payment.import_id == import_id))
               or 0)


def _known_and_open(s: Any, loans: pl.Series) -> tuple[int, int]:
    """How many of ``loans`` are in the latest portfolio import; how many planned/queued messages they have."""
    if loans.is_empty():
        return 0, 0
    latest = s.scalar(select(func.max(Import.id)).where(Import.kind == "portfolio"))
    known = 0
    if latest is not None:
        book = read_frame(s, "SELECT loan_id FROM accounts WHERE import_id = :i", {"i": latest},
                          schema={"loan_id": pl.Utf8})["loan_id"]
        known = int(loans.is_in(book.implode()).sum())
    open_msgs = 0
    values = loans.to_list()
    for i in range(0, len(values), 500):
        chunk = values[i:i + 500]
        marks = ",".join(f":l{j}" for j in range(len(chunk)))
        params = {f"l{j}": v for j, v in enumerate(chunk)}
        open_msgs += int(s.execute(text(
            f"SELECT COUNT(*) FROM messages WHERE state IN ('planned','queued') AND loan_id IN ({marks})"),  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
            params).scalar() or 0)
    return known, open_msgs
