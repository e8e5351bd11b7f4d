"""Reading files into one snapshot, recognising columns, validating and deduplicating rows."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import phonenumbers
import polars as pl
import yaml

from dunning.domain.buckets import bucket_expr, dpd_expr
from dunning.errors import InputError, MissingColumnsError
from dunning.intake.parsers import (
    amount_fen_expr,
    ascii_expr,
    date_expr,
    int_expr,
    phone_digits_expr,
    phone_expr,
    rate_expr,
)

REJECT_CODES: tuple[str, ...] = (
    "missing_field", "invalid_phone", "not_mobile", "invalid_amount", "nothing_due", "invalid_date",
    "conflicting_duplicate", "duplicate", "do_not_contact",
)
REJECT_MESSAGES_ZH: dict[str, str] = {
    "missing_field": "借款编号、手机号、应还金额或到期日为空：请在源系统补齐后重新导出。",
    "invalid_phone": "手机号无法识别：请核对号码位数与写法（11 位手机号，可带 +86）。",
    "not_mobile": "该号码是固定电话或服务号码，无法接收短信：请补充借款人的手机号。",
    "invalid_amount": "应还金额无法识别或为负数：请填写数字金额（可带 ¥、元、千分位）。",
    "nothing_due": "应还金额为 0，无需提醒：如有误请核对账务数据。",
    "invalid_date": "到期日无法识别或不存在（如 2月30日）：请使用 2026-09-30 等格式。",
    "conflicting_duplicate": "同一借款编号出现多行且内容不一致，无法判断哪行正确：该借款的所有行均未导入，请核对后重新导入。",
    "duplicate": "与已导入的一行完全相同（重复行），已保留第一行。",
    "do_not_contact": "手机号在禁止联系名单中（投诉、争议、已故、诉讼等），不发送。",
}
REJECT_MESSAGES_EN: dict[str, str] = {
    "missing_field": "loan id, phone, amount due or due date is empty: complete it in the source system.",
    "invalid_phone": "phone number not recognised: check its digits (11-digit mobile, +86 allowed).",
    "not_mobile": "a landline or service number cannot receive SMS: supply the borrower's mobile.",
    "invalid_amount": "amount due is not a number or is negative.",
    "nothing_due": "amount due is zero: nothing to remind.",
    "invalid_date": "due date not recognised or impossible (e.g. Feb 30).",
    "conflicting_duplicate": "the same loan id appears with different content: all its rows were rejected.",
    "duplicate": "an exact repeat of a row already kept; the first was kept.",
    "do_not_contact": "phone is on a do-not-contact list.",
}

REQUIRED = ("loan_id", "phone", "amount_due", "due_date")
OPTIONAL = ("name", "penalty_rate", "overdue_count", "product", "payday", "region")
ALIASES: dict[str, tuple[str, ...]] = {
    "loan_id": ("loan_id", "loanid", "loan_no", "contract_no", "借款编号", "合同号", "借据号", "贷款编号", "借款号"),
    "name": ("name", "borrower", "customer_name", "姓名", "客户姓名", "借款人", "客户名称"),
    "phone": ("phone", "mobile", "msisdn", "phone_number", "手机号", "手机号码", "联系电话", "电话", "手机"),
    "amount_due": ("amount_due", "amount", "balance", "outstanding", "应还金额", "剩余欠款", "欠款金额", "逾期金额"),
    "due_date": ("due_date", "due", "应还日期", "到期日", "还款日", "最后还款日"),
    "penalty_rate": ("penalty_rate", "daily_penalty_rate", "日罚息率", "罚息利率", "罚息率"),
    "overdue_count": ("overdue_count", "past_overdue_count", "逾期次数", "历史逾期次数"),
    "product": ("product", "product_name", "产品", "产品名称"),
    "payday": ("payday", "pay_day", "发薪日"),
    "region": ("region", "province", "地区", "省份"),
}


@dataclass(frozen=True)
class IntakeResult:
    rows: int
    accepted: pl.DataFrame
    rejected: pl.DataFrame
    files: list[str]

    @property
    def reasons(self) -> dict[str, int]:
        if self.rejected.is_empty():
            return {}
        counts = dict(self.rejected.group_by("reason").len().iter_rows())
        return {code: int(counts[code]) for code in REJECT_CODES if code in counts}


def _norm_header(h: str) -> str:
    return h.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


def _decode(data: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"无法按 {encoding} 解码文件：{exc}", f"cannot decode as {encoding}: {exc}",
                             code="input.encoding") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")  # GB18030 is a superset of GBK and GB2312


def _read_one(path: Path, encoding: str | None) -> tuple[pl.DataFrame, bool]:
    """All columns as strings; second value says whether the file is Excel (serial dates possible)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            df = pl.read_excel(path, engine="calamine")
            return df.with_columns(pl.all().cast(pl.Utf8)), True
        if suffix == ".parquet":
            return pl.read_parquet(path).with_columns(pl.all().cast(pl.Utf8)), False
        text = _decode(path.read_bytes(), encoding)
        return pl.read_csv(io.StringIO(text), infer_schema=False, truncate_ragged_lines=True), False
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"无法读取文件 {path.name}：{exc}", f"cannot read {path.name}: {exc}",
                         code="input.unreadable") from exc


def _load_mapping(mapping: Path | None) -> dict[str, str]:
    if mapping is None:
        return {}
    data = yaml.safe_load(mapping.read_text(encoding="utf-8")) or {}
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict):
        raise InputError(f"列映射文件 {mapping} 应为「标准列名: 文件中的列名」", "mapping must be canonical: header",
                         code="input.mapping")
    unknown = sorted(set(data) - set(ALIASES))
    if unknown:
        raise InputError(f"列映射文件中有未知的标准列：{'、'.join(unknown)}（可用：{'、'.join(ALIASES)}）",
                         f"unknown canonical columns in mapping: {unknown}", code="input.mapping")
    return {str(k): str(v) for k, v in data.items()}


def _map_columns(df: pl.DataFrame, file: str, mapping: Mapping[str, str]) -> dict[str, str]:
    """canonical name → header in this file."""
    by_norm = {_norm_header(c): c for c in df.columns}
    found: dict[str, str] = {}
    for canon, header in mapping.items():
        if header in df.columns:
            found[canon] = header
        elif _norm_header(header) in by_norm:
            found[canon] = by_norm[_norm_header(header)]
    for canon, aliases in ALIASES.items():
        if canon in found:
            continue
        for alias in aliases:
            if _norm_header(alias) in by_norm:
                found[canon] = by_norm[_norm_header(alias)]
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise MissingColumnsError(found=list(df.columns), missing=missing, file=file)
    return found


def _exclude_phones(paths: Sequence[Path]) -> pl.Series:
    frames = []
    for p in paths:
        lines = [ln.strip() for ln in _decode(p.read_bytes(), None).splitlines()]
        frames.append(pl.DataFrame({"raw": [ln for ln in lines if ln and not ln.startswith("#")]},
                                   schema={"raw": pl.Utf8}))
    if not frames:
        return pl.Series("phone", [], dtype=pl.Utf8)
    df = pl.concat(frames)
    return df.select(phone_expr("raw").alias("phone")).drop_nulls()["phone"].unique()


def _classify_unsettled(raw: pl.Series, allow_international: bool) -> tuple[list[str | None], list[str]]:
    """phonenumbers on the few rows the vectorised rule could not settle: E.164 or a reject code."""
    phones: list[str | None] = []
    codes: list[str] = []
    for value in raw.to_list():
        try:
            num = phonenumbers.parse(value or "", "CN")
        except phonenumbers.NumberParseException:
            phones.append(None)
            codes.append("invalid_phone")
            continue
        if not phonenumbers.is_valid_number(num):
            phones.append(None)
            codes.append("invalid_phone")
            continue
        kind = phonenumbers.number_type(num)
        mobile = kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
        if not mobile:
            phones.append(None)
            codes.append("not_mobile")
        elif num.country_code != 86 and not allow_international:
            phones.append(None)
            codes.append("invalid_phone")
        else:
            phones.append(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
            codes.append("")
    return phones, codes


def read_portfolio(
    paths: Sequence[Path],
    *,
    as_of: date,
    mapping: Path | None = None,
    exclude: Sequence[Path] = (),
    encoding: str | None = None,
    allow_international: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> IntakeResult:
    """Read one snapshot (one or more files) and split it into accepted accounts and explained rejects."""
    paths = [Path(p) for p in paths]
    col_map = _load_mapping(mapping)
    frames = []
    for i, path in enumerate(paths):
        if progress:
            progress(f"读取 {path.name}", i, len(paths))
        df, excel = _read_one(path, encoding)
        found = _map_columns(df, path.name, col_map)
        originals = df.columns
        raw_json = pl.struct([pl.col(c) for c in originals]).struct.json_encode() if originals else pl.lit("{}")
        cols = [pl.col(found[c]).cast(pl.Utf8).alias(c) if c in found else pl.lit(None, pl.Utf8).alias(c)
                for c in (*REQUIRED, *OPTIONAL)]
        frames.append(
            df.select(
                pl.lit(path.name).alias("source_file"),
                (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("source_row"),
                pl.lit(excel).alias("_excel"),
                raw_json.alias("raw"),
                *cols,
            )
        )
    if progress:
        progress("校验", len(paths), len(paths))
    df = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    rows = df.height

    blank = [(ascii_expr(c).fill_null("") == "") for c in REQUIRED]
    excel_serial = pl.col("_excel") & ascii_expr("due_date").str.contains(r"^\d{5}(\.0+)?$")
    serial_date = (pl.lit(date(1899, 12, 30)) + pl.duration(
        days=ascii_expr("due_date").str.replace(r"\.0+$", "").cast(pl.Int64, strict=False))).cast(pl.Date)
    df = df.with_columns(
        pl.any_horizontal(blank).alias("_missing"),
        phone_expr("phone").alias("_phone"),
        amount_fen_expr("amount_due").alias("amount_due_fen"),
        pl.when(excel_serial).then(serial_date).otherwise(date_expr("due_date")).alias("due_date_d"),
        rate_expr("penalty_rate").alias("penalty_rate_f"),
        int_expr("overdue_count").fill_null(0).cast(pl.Int32).alias("overdue_count_i"),
        int_expr("payday").alias("_payday"),
    )
    # Phones the vectorised mainland-mobile rule did not settle: landline prefixes are settled here too.
    digits = phone_digits_expr("phone")
    df = df.with_columns(
        pl.when(pl.col("_missing") | pl.col("_phone").is_not_null()).then(pl.lit(""))
        .when(digits.str.contains(r"^(\+?86)?0\d{9,11}$|^(400|800)\d{7}$|^(\+?86)?[2-9]\d{6,7}$"))
        .then(pl.lit("not_mobile"))
        .when(digits.str.contains(r"^\+?\d{6,15}$") & ~digits.str.contains(r"^1\d{10}$")).then(pl.lit("?"))
        .otherwise(pl.lit("invalid_phone")).alias("_phone_code")
    )
    unsettled = df.filter(pl.col("_phone_code") == "?")
    if unsettled.height:
        phones, codes = _classify_unsettled(unsettled["phone"], allow_international)
        fix = pl.DataFrame({"source_file": unsettled["source_file"], "source_row": unsettled["source_row"],
                            "_p2": phones, "_c2": codes},
                           schema={"source_file": pl.Utf8, "source_row": pl.Int64, "_p2": pl.Utf8, "_c2": pl.Utf8})
        df = df.join(fix, on=["source_file", "source_row"], how="left").with_columns(
            pl.coalesce("_phone", "_p2").alias("_phone"),
            pl.when(pl.col("_phone_code") == "?").then(pl.col("_c2")).otherwise(pl.col("_phone_code"))
            .alias("_phone_code"),
        ).drop("_p2", "_c2")

    reason = (
        pl.when(pl.col("_missing")).then(pl.lit("missing_field"))
        .when(pl.col("_phone_code") != "").then(pl.col("_phone_code"))
        .when(pl.col("amount_due_fen").is_null() | (pl.col("amount_due_fen") < 0)).then(pl.lit("invalid_amount"))
        .when(pl.col("amount_due_fen") == 0).then(pl.lit("nothing_due"))
        .when(pl.col("due_date_d").is_null()).then(pl.lit("invalid_date"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    df = df.with_columns(reason.alias("reason"), ascii_expr("loan_id").alias("loan_id"),
                         pl.col("name").str.strip_chars().alias("name"),
                         pl.col("product").str.strip_chars().alias("product"),
                         pl.col("region").str.strip_chars().alias("region"))

    # Duplicates, judged across all files on the normalised content of the rows still valid.
    content = ["name", "_phone", "amount_due_fen", "due_date_d", "penalty_rate_f", "overdue_count_i",
               "product", "_payday", "region"]
    valid = pl.col("reason").is_null()
    df = df.with_columns(
        pl.struct(content).hash(0x1D).alias("_content"),
        pl.int_range(pl.len()).alias("_order"),
    )
    n_distinct = (
        df.filter(valid).group_by("loan_id").agg(pl.col("_content").n_unique().alias("_n"))
    )
    df = df.join(n_distinct, on="loan_id", how="left").with_columns(
        pl.when(valid & (pl.col("_n") > 1)).then(pl.lit("conflicting_duplicate")).otherwise(pl.col("reason"))
        .alias("reason")
    )
    valid = pl.col("reason").is_null()
    first_of_kind = pl.col("_order") == pl.col("_order").min().over("loan_id", "_content")
    df = df.with_columns(
        pl.when(valid & ~first_of_kind).then(pl.lit("duplicate")).otherwise(pl.col("reason")).alias("reason")
    )
    if exclude:
        dnc = _exclude_phones(exclude)
        df = df.with_columns(
            pl.when(pl.col("reason").is_null() & pl.col("_phone").is_in(dnc.implode()))
            .then(pl.lit("do_not_contact")).otherwise(pl.col("reason")).alias("reason")
        )

    accepted = (
        df.filter(pl.col("reason").is_null())
        .select(
            "source_file", "source_row", "loan_id", "name", pl.col("_phone").alias("phone"), "amount_due_fen",
            pl.col("due_date_d").alias("due_date"), pl.col("penalty_rate_f").alias("penalty_rate"),
            pl.col("overdue_count_i").alias("overdue_count"), "product",
            pl.when(pl.col("_payday").is_between(1, 31)).then(pl.col("_payday")).otherwise(None).cast(pl.Int8)
            .alias("payday"),
            "region",
        )
        .with_columns(dpd_expr("due_date", as_of).alias("dpd"))
        .with_columns(bucket_expr("dpd").alias("bucket"))
    )
    rejected = df.filter(pl.col("reason").is_not_null()).select(
        "source_file", "source_row", "reason",
        pl.col("reason").replace_strict(REJECT_MESSAGES_ZH, return_dtype=pl.Utf8).alias("message_zh"),
        pl.col("reason").replace_strict(REJECT_MESSAGES_EN, return_dtype=pl.Utf8).alias("message_en"),
        "raw",
    ).sort("source_file", "source_row")
    return IntakeResult(rows=rows, accepted=accepted, rejected=rejected, files=[str(p) for p in paths])


def write_reject_report(rejected: pl.DataFrame, stem: Path) -> tuple[Path, Path]:
    """The reject report a clerk works from: CSV (UTF-8 with BOM, so Excel opens it) and XLSX."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = rejected.select(
        pl.col("source_file").alias("文件 file"), pl.col("source_row").alias("行号 row"),
        pl.col("reason").alias("原因代码 code"), pl.col("message_zh").alias("说明"),
        pl.col("message_en").alias("message"), pl.col("raw").alias("原始内容 original"),
    )
    csv_path = stem.with_suffix(".csv")
    csv_path.write_bytes(b"\xef\xbb\xbf" + table.write_csv().encode("utf-8"))
    xlsx_path = stem.with_suffix(".xlsx")
    table.write_excel(xlsx_path, worksheet="拒绝明细 rejects", autofit=True)
    return csv_path, xlsx_path
