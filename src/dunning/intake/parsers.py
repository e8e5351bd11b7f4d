"""Value parsers: any string in, a value or a reject code out, never an exception.

Two layers, same rules:

* ``parse_*`` take a Utf8 :class:`polars.Series` and return a Series (or a frame for phones). They are the
  fast implementation: most cells in a real export are already clean, so each parser settles the clean cells
  with one cheap vectorised test and runs the tolerant normalisation only on the rest (scattered back by
  index), and low-cardinality columns (dates, rates, counts) are parsed once per distinct value.
* ``*_expr(col)`` wrap them as Polars expressions for callers that work on frames (payments import, API
  uploads): ``df.select(amount_fen_expr("金额"))``.

``phonenumbers`` runs only on the numbers the vectorised mainland-mobile rule cannot settle (landlines,
international numbers, odd prefixes), once per distinct value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date

import phonenumbers
import polars as pl

# Full-width ASCII (U+FF01..U+FF5E) to ASCII, ideographic/no-break spaces to spaces, dash look-alikes to '-',
# invisible marks removed: what copy-paste from Word, WeChat and IME input puts into spreadsheet cells.
_FROM = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000", "\u00a0", "\u2010", "\u2011", "\u2012", "\u2013",
                                                 "\u2014", "\u2212", "\ufeff", "\u200b", "\uffe5"]
_TO = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" ", " ", "-", "-", "-", "-", "-", "-", "", "", "¥"]

PHONE_DTYPE = pl.Struct({"phone": pl.Utf8, "reject": pl.Utf8})
"""``phone``: E.164 when the text is a real number (mobile or not); ``reject``: null or a reject code."""

DATE_MIN = date(1950, 1, 1)
DATE_MAX = date(2100, 12, 31)
"""Dates outside this window are typing errors (``0226-09-30``), not due dates: ``invalid_date``."""

_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 once its 1900 leap-year bug is accounted for

_SEPARATORS = r"[\s\-_.()\[\]（）【】]"
_MAX_FEN = 10**17  # more than any loan; beyond this a cell is an id or a typo, not an amount


def to_ascii(s: pl.Series) -> pl.Series:
    """Full-width digits, letters and signs to ASCII; surrounding blanks removed."""
    return s.cast(pl.Utf8).str.replace_many(_FROM, _TO).str.strip_chars()


def is_blank(s: pl.Series) -> pl.Series:
    """True where a cell is null or holds only whitespace (ideographic spaces included)."""
    s = s.cast(pl.Utf8)
    return (s.is_null() | (s.str.strip_chars() == "")).fill_null(True)


def _patched(base: pl.Series, todo: pl.Series, fix: Callable[[pl.Series], pl.Series],
             source: pl.Series) -> pl.Series:
    """``base`` with the rows where ``todo`` is true replaced by ``fix(source[those rows])``."""
    idx = todo.fill_null(False).arg_true()
    if idx.len() == 0:
        return base
    fixed = fix(source.gather(idx)).cast(base.dtype)
    return base.clone().scatter(idx, fixed)


def _by_distinct(s: pl.Series, parse: Callable[[pl.Series], pl.Series], dtype: pl.DataType | type[pl.DataType]) -> pl.Series:
    """``parse`` run once per distinct value and mapped back (dates, rates and counts repeat a lot)."""
    distinct = s.drop_nulls().unique()
    if distinct.len() * 2 > s.len():
        return parse(s).cast(dtype).rename(s.name)
    table = pl.DataFrame({"k": distinct, "v": parse(distinct).cast(dtype)})
    return (
        pl.DataFrame({"k": s}).join(table, on="k", how="left", maintain_order="left")["v"].rename(s.name)
    )


def _clean_then_distinct(s: pl.Series, clean_pattern: str, fast: Callable[[pl.Series], pl.Series],
                         slow: Callable[[pl.Series], pl.Series], dtype: pl.DataType | type[pl.DataType]) -> pl.Series:
    """``fast`` on cells already in the canonical form (one regex test), ``slow`` once per distinct other
    value. ``fast`` must agree with ``slow`` on every cell matching ``clean_pattern``."""
    s = s.cast(pl.Utf8)
    clean = s.str.contains(clean_pattern).fill_null(False)
    out = pl.select(pl.when(pl.lit(clean)).then(pl.lit(fast(s)))).to_series().cast(dtype)
    return _patched(out, ~clean & s.is_not_null(), lambda sub: _by_distinct(sub, slow, dtype), s).rename(s.name)


# --------------------------------------------------------------------------------------------------- phones


def _classify_one(text: str, allow_international: bool) -> tuple[str | None, str | None]:
    try:
        num = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None, "invalid_phone"
    if not phonenumbers.is_valid_number(num):
        return None, "invalid_phone"
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(num)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return e164, "not_mobile"
    if num.country_code != 86 and not allow_international:
        return e164, "invalid_phone"
    return e164, None


@functools.cache
def _cn_patterns() -> tuple[str, str, str]:
    """Anchored regexes for mainland numbers taken from phonenumbers' own metadata (general shape, mobile,
    every number type that cannot take an SMS), so the vectorised answer is the library's answer."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert meta is not None

    def anchored(descs: list[phonenumbers.PhoneNumberDesc | None]) -> str:
        parts = [
            f"(?:{d.national_number_pattern})" for d in descs if d is not None and d.national_number_pattern
        ]
        return "^(?:" + "|".join(parts).replace("\\d", "[0-9]") + ")$"

    other = [meta.fixed_line, meta.toll_free, meta.premium_rate, meta.shared_cost, meta.personal_number,
             meta.voip, meta.pager, meta.uan, meta.voicemail]
    return anchored([meta.general_desc]), anchored([meta.mobile]), anchored(other)


def _phones_slow(raw: pl.Series, allow_international: bool) -> pl.DataFrame:
    """The tolerant path for cells that are not already a bare 11-digit mainland mobile."""
    general, mobile_pattern, other_pattern = _cn_patterns()
    text = to_ascii(raw).str.replace(r"\.0+$", "")  # a number that went through a float column
    digits = text.str.replace_all(_SEPARATORS, "")
    frame = pl.DataFrame({"d": digits, "blank": is_blank(raw)}).with_columns(
        pl.col("d").str.contains(r"^\+?[0-9]+$").fill_null(False).alias("digits_only"),
        (pl.col("d").str.contains(r"^(?:\+|00)") & ~pl.col("d").str.contains(r"^(?:\+|00)86"))
        .fill_null(False).alias("foreign"),
        # National significant number of a mainland number: country code and trunk "0" removed.
        pl.col("d").str.replace(r"^(?:\+86|0086)", "").str.replace(r"^0", "").alias("nsn"),
        pl.col("d").str.replace(r"^(?:\+86|0086|86|0)(1[0-9]{10})$", "$1").alias("prefixed"),
    ).with_columns(
        pl.col("prefixed").str.contains(mobile_pattern).fill_null(False).alias("prefixed_mobile"),
        (pl.col("nsn").str.contains(general) & pl.col("nsn").str.contains(mobile_pattern))
        .fill_null(False).alias("mobile"),
        (pl.col("nsn").str.contains(general) & pl.col("nsn").str.contains(other_pattern))
        .fill_null(False).alias("other"),
        # What only phonenumbers can untangle: an IP-dialling carrier prefix (17951…, 12593…) or "86"
        # without a plus in front of a landline.
        (pl.col("d").str.contains(r"^1(?:[12][0-9]|79)[0-9]{2}[0-9]{7,}$")
         | pl.col("d").str.contains(r"^86[0-9]{10,}$")).fill_null(False).alias("ambiguous"),
    )
    out = frame.select(
        pl.when(pl.col("blank") | ~pl.col("digits_only") | pl.col("foreign")).then(pl.lit(None, pl.Utf8))
        .when(pl.col("prefixed_mobile")).then(pl.lit("+86") + pl.col("prefixed"))
        .when(pl.col("mobile") | pl.col("other")).then(pl.lit("+86") + pl.col("nsn"))
        .alias("phone"),
        pl.when(pl.col("blank")).then(pl.lit("missing_field"))
        .when(~pl.col("digits_only")).then(pl.lit("invalid_phone"))
        .when(pl.col("foreign")).then(pl.lit("?"))
        .when(pl.col("prefixed_mobile") | pl.col("mobile")).then(pl.lit(None, pl.Utf8))
        .when(pl.col("other")).then(pl.lit("not_mobile"))
        .when(pl.col("ambiguous")).then(pl.lit("?"))
        .otherwise(pl.lit("invalid_phone"))
        .alias("reject"),
    )
    phone, reject = out["phone"], out["reject"]
    unsettled = (reject == "?").fill_null(False)
    if unsettled.any():
        idx = unsettled.arg_true()
        values = digits.gather(idx)
        table = {v: _classify_one(v, allow_international) for v in values.unique().to_list()}
        phone = phone.scatter(idx, pl.Series([table[v][0] for v in values.to_list()], dtype=pl.Utf8))
        reject = reject.scatter(idx, pl.Series([table[v][1] for v in values.to_list()], dtype=pl.Utf8))
    return pl.DataFrame({"phone": phone, "reject": reject})


def parse_phones(s: pl.Series, *, allow_international: bool = False) -> pl.DataFrame:
    """Phones as written → frame ``phone`` (E.164 or null) and ``reject`` (null or a reject code).

    Accepted spellings: spaces, dashes, dots and brackets anywhere; ``+86``/``86``/``0086`` prefixes; a
    long-distance ``0`` before a mobile; full-width digits; a trailing ``.0`` from a float column. A blank
    cell is ``missing_field``, a landline or service number ``not_mobile`` (its E.164 is still given, so a
    do-not-contact list can hold landlines), anything else ``invalid_phone``. International mobiles are
    accepted only with ``allow_international``; otherwise they are ``invalid_phone``.
    """
    s = s.cast(pl.Utf8)
    clean = s.str.contains(_cn_patterns()[1]).fill_null(False)
    phone = pl.select(pl.when(pl.lit(clean)).then(pl.lit("+86") + pl.lit(s)).alias("phone")).to_series()
    reject = pl.Series("reject", [None] * s.len(), dtype=pl.Utf8)
    idx = (~clean).arg_true()
    if idx.len():
        slow = _phones_slow(s.gather(idx), allow_international)
        phone = phone.scatter(idx, slow["phone"])
        reject = reject.scatter(idx, slow["reject"])
    return pl.DataFrame({"phone": phone, "reject": reject})


def mobile_e164(s: pl.Series, *, allow_international: bool = False) -> pl.Series:
    """Only the numbers that can receive an SMS, as E.164; null for everything else."""
    out = parse_phones(s, allow_international=allow_international)
    return out.select(pl.when(pl.col("reject").is_null()).then(pl.col("phone"))).to_series().rename(s.name)


# -------------------------------------------------------------------------------------------------- amounts

_PLAIN_AMOUNT = r"^[0-9]{1,15}(?:\.[0-9]{1,2})?$"


def _amounts_slow(raw: pl.Series) -> pl.Series:
    text = to_ascii(raw)
    wan = text.str.contains(r"万元?$").fill_null(False)
    # Accounting negatives "(1,234.00)" are negative amounts, i.e. invalid, not 1234.
    text = text.str.replace(r"^\((.*)\)$", "-$1")
    text = text.str.replace_all(r"[¥$,\s]|RMB|CNY|人民币|万元|万|元|圆|整", "")
    number = text.str.contains(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$").fill_null(False)
    # Three decimals kept, then rounded half-up to fen in integers: no float ever holds the amount.
    mills = text.cast(pl.Decimal(38, 3), strict=False).to_physical()  # Int128, exact
    bound = 10**18
    frame = pl.DataFrame({"m": mills, "wan": wan, "number": number}).select(
        pl.when((pl.col("m") < bound) & (pl.col("m") > -bound)).then(pl.col("m")).cast(pl.Int64).alias("m"),
        "wan", "number",
    )
    return frame.select(
        pl.when(~pl.col("wan")).then(pl.col("m"))
        .when(pl.col("m").abs() < bound // 10_000).then(pl.col("m") * 10_000)
        .alias("m"),
        "number",
    ).select(
        pl.when(pl.col("m") >= 0).then((pl.col("m") + 5) // 10).otherwise(-((-pl.col("m") + 5) // 10)).alias("f"),
        "number",
    ).select(
        pl.when(pl.col("number") & (pl.col("f").abs() < _MAX_FEN)).then(pl.col("f")).cast(pl.Int64)
    ).to_series()


def parse_amounts(s: pl.Series) -> pl.Series:
    """Amounts as written → integer fen (Int64); null when unparseable. Sign is kept: negative and zero
    amounts are judged by :func:`amount_reject` (``invalid_amount`` / ``nothing_due``).

    Accepted: ``1234.5``, ``¥1,234.50``, ``￥ 800``, ``1234.50元``, ``RMB 800``, ``1.2万``, full-width digits.
    More than two decimals are rounded half-up to the fen.
    """
    s = s.cast(pl.Utf8)
    clean = s.str.contains(_PLAIN_AMOUNT).fill_null(False)
    fen = pl.select(
        pl.when(pl.lit(clean)).then(pl.lit(s).cast(pl.Decimal(18, 2), strict=False).to_physical())
    ).to_series().cast(pl.Int64)
    return _patched(fen, ~clean & s.is_not_null(), _amounts_slow, s).rename(s.name)


def amount_reject(fen: pl.Series) -> pl.Series:
    """``invalid_amount`` for null or negative fen, ``nothing_due`` for zero, null otherwise."""
    return pl.select(
        pl.when(pl.lit(fen).is_null() | (pl.lit(fen) < 0)).then(pl.lit("invalid_amount"))
        .when(pl.lit(fen) == 0).then(pl.lit("nothing_due"))
        .otherwise(pl.lit(None, pl.Utf8))
    ).to_series().rename("reject")


# ---------------------------------------------------------------------------------------------------- dates

_TIME_SUFFIX = r"(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?(?:\s*[AaPp][Mm])?)$"


def _dates_slow(raw: pl.Series) -> pl.Series:
    text = to_ascii(raw).str.replace(_TIME_SUFFIX, "").str.strip_chars()
    sep = text.str.extract_groups(
        r"^(?P<y>[0-9]{4})\s*[-/.年]\s*(?P<m>[0-9]{1,2})\s*[-/.月]\s*(?P<d>[0-9]{1,2})\s*[日号]?$"
    )
    compact = text.str.extract_groups(r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$")
    frame = pl.DataFrame({"a": sep, "b": compact})
    iso = frame.select(
        pl.concat_str(
            pl.coalesce(pl.col("a").struct.field("y"), pl.col("b").struct.field("y")),
            pl.lit("-"),
            pl.coalesce(pl.col("a").struct.field("m"), pl.col("b").struct.field("m")).str.zfill(2),
            pl.lit("-"),
            pl.coalesce(pl.col("a").struct.field("d"), pl.col("b").struct.field("d")).str.zfill(2),
        )
    ).to_series()
    parsed = iso.str.to_date("%Y-%m-%d", strict=False)
    return pl.select(pl.when(pl.lit(parsed).is_between(DATE_MIN, DATE_MAX)).then(pl.lit(parsed))).to_series()


def parse_dates(s: pl.Series) -> pl.Series:
    """Dates as written → Date; null when unparseable or impossible (``2026-02-30``).

    Accepted: ``2026-09-30``, ``2026/9/30``, ``2026.09.30``, ``2026年9月30日``, ``20260930``, any of these with a
    time of day after them (``2026-09-30 00:00:00``), full-width digits. Excel serial numbers are converted
    when the file is an Excel workbook (see :func:`excel_serial_to_iso`), never in text files.
    """
    def iso(t: pl.Series) -> pl.Series:
        d = t.str.to_date("%Y-%m-%d", strict=False)
        return pl.select(pl.when(pl.lit(d).is_between(DATE_MIN, DATE_MAX)).then(pl.lit(d))).to_series()

    return _clean_then_distinct(s, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", iso, _dates_slow, pl.Date)


def excel_serial_to_iso(s: pl.Series) -> pl.Series:
    """Cells of an Excel workbook holding a date serial (``46295`` or ``46295.5``) → ISO date text;
    other cells unchanged. Only five-digit serials (1927–2173) are taken as dates."""
    s = s.cast(pl.Utf8)
    serial = s.str.strip_chars().str.contains(r"^[0-9]{5}(?:\.[0-9]+)?$").fill_null(False)
    days = s.str.strip_chars().str.replace(r"\.[0-9]+$", "").cast(pl.Int64, strict=False)
    as_date = pl.select(
        (pl.lit(_EXCEL_EPOCH) + pl.duration(days=pl.lit(days))).cast(pl.Date).dt.strftime("%Y-%m-%d")
    ).to_series()
    return pl.select(pl.when(pl.lit(serial)).then(pl.lit(as_date)).otherwise(pl.lit(s))).to_series().rename(s.name)


# ---------------------------------------------------------------------------------------------------- rates

_NUMBER = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"


def _rates_slow(raw: pl.Series) -> pl.Series:
    text = (
        to_ascii(raw).str.to_lowercase()
        .str.replace_all(r"\s|每日|日息|日利率|日罚息|/日|/天|per ?day|/day|daily", "")
        .str.strip_chars("日")
    )
    frame = pl.DataFrame({
        "pct": text.str.extract(rf"^{_NUMBER}%$", 1),
        "permille": text.str.extract(rf"^{_NUMBER}‰$", 1),
        "wan": text.str.extract(rf"^万分之{_NUMBER}$", 1),
        "plain": text.str.extract(rf"^{_NUMBER}$", 1),
    })
    return frame.select(
        pl.coalesce(
            pl.col("pct").cast(pl.Float64, strict=False) / 100,
            pl.col("permille").cast(pl.Float64, strict=False) / 1000,
            pl.col("wan").cast(pl.Float64, strict=False) / 10_000,
            pl.col("plain").cast(pl.Float64, strict=False),
        ).round(12)
    ).to_series()


def parse_rates(s: pl.Series) -> pl.Series:
    """Daily penalty rates → a fraction (Float64); null when blank or unparseable.

    ``0.05%``, ``0.5‰``, ``万分之5`` and ``0.0005`` are the same rate; ``日``/``每日``/``/天`` around it are fine.
    """
    return _clean_then_distinct(s, r"^[0-9]{1,6}(?:\.[0-9]{1,12})?$", lambda t: t.cast(pl.Float64, strict=False),
                                _rates_slow, pl.Float64)


# ----------------------------------------------------------------------------------------- small integers


def _ints_slow(raw: pl.Series) -> pl.Series:
    text = to_ascii(raw).str.replace_all(r"\s|每月|次|日|号", "").str.replace(r"\.0*$", "")
    return text.str.extract(r"^([0-9]{1,6})$", 1).cast(pl.Int64, strict=False)


def parse_ints(s: pl.Series) -> pl.Series:
    """Counts and days as written (``3``, ``3次``, ``15日``, ``每月15号``, ``3.0``) → Int64; null otherwise."""
    return _clean_then_distinct(s, r"^[0-9]{1,6}$", lambda t: t.cast(pl.Int64, strict=False), _ints_slow, pl.Int64)


def parse_paydays(s: pl.Series) -> pl.Series:
    """Payday of the month 1..31 → Int8; null when blank, unparseable or out of range."""
    n = parse_ints(s)
    return pl.select(pl.when(pl.lit(n).is_between(1, 31)).then(pl.lit(n))).to_series().cast(pl.Int8).rename(s.name)


# ------------------------------------------------------------------------------------ expression builders


def phone_check_expr(col: str, *, allow_international: bool = False) -> pl.Expr:
    """Struct ``{phone, reject}`` per row; see :func:`parse_phones`."""
    return pl.col(col).map_batches(
        lambda s: parse_phones(s, allow_international=allow_international).to_struct(s.name),
        return_dtype=PHONE_DTYPE, is_elementwise=True,
    )


def phone_expr(col: str, *, allow_international: bool = False) -> pl.Expr:
    """E.164 of numbers that can receive an SMS (mainland mobiles; international ones if allowed), else null."""
    return pl.col(col).map_batches(
        lambda s: mobile_e164(s, allow_international=allow_international),
        return_dtype=pl.Utf8, is_elementwise=True,
    )


def amount_fen_expr(col: str) -> pl.Expr:
    """Integer fen (Int64, sign kept) or null; see :func:`parse_amounts`."""
    return pl.col(col).map_batches(parse_amounts, return_dtype=pl.Int64, is_elementwise=True)


def date_expr(col: str) -> pl.Expr:
    """Date or null; see :func:`parse_dates`."""
    return pl.col(col).map_batches(parse_dates, return_dtype=pl.Date, is_elementwise=True)


def rate_expr(col: str) -> pl.Expr:
    """Daily rate as a fraction (Float64) or null; see :func:`parse_rates`."""
    return pl.col(col).map_batches(parse_rates, return_dtype=pl.Float64, is_elementwise=True)


def int_expr(col: str) -> pl.Expr:
    """Small non-negative integer (Int64) or null; see :func:`parse_ints`."""
    return pl.col(col).map_batches(parse_ints, return_dtype=pl.Int64, is_elementwise=True)
