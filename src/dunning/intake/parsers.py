"""Value parsers: any string in, a value or a reject code out, never an exception.

Two layers, same rules:

* ``parse_*`` take a Utf8 :class:`polars.Series` and return a Series (or a frame for phones). They are the
  fast implementation: most cells in a real export are already clean, so each parser settles the clean cells
  with one cheap vectorised test and runs the tolerant normalisation only on the rest (scattered back by
  index), and low-cardinality columns (dates, rates, counts) are parsed once per distinct value.
* ``*_expr(col)`` wrap them as Polars expressions for callers that work on frames (payments import, API
  uploads): ``df.select(amount_fen_expr("金额"))``.

Phones are classified with phonenumbers' own CN metadata turned into column expressions (the differential
test in ``tests/intake`` holds them to the library's answers); ``phonenumbers`` itself runs only on numbers
of other countries, once per distinct value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
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


def classify_phone(text: str, allow_international: bool) -> tuple[str | None, str | None]:
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


@dataclass(frozen=True)
class _Desc:
    pattern: str  # anchored
    lengths: tuple[int, ...]

    def full(self, x: pl.Expr) -> pl.Expr:
        """phonenumbers' _is_number_matching_desc: a possible length and a full pattern match."""
        return x.str.contains(self.pattern) & x.str.len_chars().is_in(list(self.lengths))

    def shape(self, x: pl.Expr) -> pl.Expr:
        """phonenumbers' _match_national_number: the pattern alone."""
        return x.str.contains(self.pattern)


@dataclass(frozen=True)
class _CnPlan:
    general: _Desc
    special: tuple[_Desc, ...]  # premium, toll-free, shared cost, VoIP, personal, pager, UAN, voicemail
    fixed: _Desc
    mobile: _Desc
    national_prefix: str  # anchored, "(rest)" captured
    idd: str  # anchored, "(rest)" captured


@functools.cache
def _cn_plan() -> _CnPlan:
    """phonenumbers' own CN metadata as vectorised regexes, so the vectorised answer is the library's."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    if meta is None:  # pragma: no cover - the library always ships CN
        raise RuntimeError("phonenumbers has no metadata for CN")

    def desc(d: phonenumbers.PhoneNumberDesc | None) -> _Desc | None:
        if d is None or not d.national_number_pattern:
            return None
        pattern = "^(?:" + d.national_number_pattern.replace("\\d", "[0-9]") + ")$"
        fallback = meta.general_desc.possible_length if meta.general_desc is not None else ()
        return _Desc(pattern, tuple(d.possible_length or fallback))

    special = tuple(x for x in (desc(meta.premium_rate), desc(meta.toll_free), desc(meta.shared_cost),
                                desc(meta.voip), desc(meta.personal_number), desc(meta.pager), desc(meta.uan),
                                desc(meta.voicemail)) if x is not None)
    general, fixed, mobile = desc(meta.general_desc), desc(meta.fixed_line), desc(meta.mobile)
    assert general is not None and fixed is not None and mobile is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
    # The library's patterns capture groups of their own; ours must be the only capturing group.
    prefix = re.sub(r"\((?!\?)", "(?:", (meta.national_prefix_for_parsing or "0").replace("\\d", "[0-9]"))
    idd = re.sub(r"\((?!\?)", "(?:", (meta.international_prefix or "00").replace("\\d", "[0-9]"))
    return _CnPlan(general, special, fixed, mobile, f"^(?:{prefix})(.*)$", f"^(?:{idd})([1-9].*)$")


def _strip_national_prefix(x: pl.Expr, plan: _CnPlan) -> pl.Expr:
    """phonenumbers' _maybe_strip_national_prefix_carrier_code: a trunk 0 or an IP-dialling carrier code
    (17951, 12593…) comes off unless the number was viable with it and is not without it."""
    rest = x.str.extract(plan.national_prefix, 1)
    keep = rest.is_null() | (plan.general.shape(x) & ~plan.general.shape(rest).fill_null(False))
    return pl.when(keep).then(x).otherwise(rest)


def _phones_slow(raw: pl.Series, allow_international: bool) -> pl.DataFrame:
    """Spelled mobiles (``+86 138-1234-8000``) settled by one regex; the rest by :func:`_phones_exact`."""
    plan = _cn_plan()
    digits = to_ascii(raw).str.replace(r"\.0+$", "").str.replace_all(_SEPARATORS, "")
    mobile = digits.str.extract(r"^(?:\+86|0086|86|0)?(" + plan.mobile.pattern[1:-1] + ")$", 1)
    phone = pl.select(pl.lit("+86") + pl.lit(mobile)).to_series().rename("phone")
    reject = pl.Series("reject", [None] * raw.len(), dtype=pl.Utf8)
    idx = mobile.is_null().arg_true()
    if idx.len():
        rest = _phones_exact(raw.gather(idx), allow_international)
        phone = phone.scatter(idx, rest["phone"])
        reject = reject.scatter(idx, rest["reject"])
    return pl.DataFrame({"phone": phone, "reject": reject})


def _phones_exact(raw: pl.Series, allow_international: bool) -> pl.DataFrame:
    """Cells that are neither a bare nor a spelled mainland mobile: landlines, service numbers, odd prefixes.

    Mainland numbers follow phonenumbers.parse(…, "CN") step by step as whole-column expressions: the
    international prefix ("+", "00", or an IP-dialling code + "00"), "86" written without a plus, the trunk
    prefix, then the number type from the library's patterns. Only numbers of other countries go to
    phonenumbers itself, once per distinct value. Letters are never digits here (no vanity numbers).
    """
    plan = _cn_plan()
    text = to_ascii(raw).str.replace(r"\.0+$", "")  # a number that went through a float column
    digits = text.str.replace_all(_SEPARATORS, "")
    d = pl.col("d")
    frame = pl.DataFrame({"d": digits, "blank": is_blank(raw)}).with_columns(
        d.str.contains(r"^\+?[0-9]+$").fill_null(False).alias("digits_only"),
        pl.when(d.str.starts_with("+")).then(d.str.slice(1)).otherwise(d.str.extract(plan.idd, 1)).alias("intl"),
    ).with_columns(
        # With an international prefix: mainland when the country code is 86, someone else's otherwise.
        (pl.col("intl").is_not_null() & ~pl.col("intl").str.starts_with("86")).fill_null(False).alias("foreign"),
        pl.when(pl.col("intl").is_not_null()).then(pl.col("intl").str.slice(2)).alias("cc86"),
        _strip_national_prefix(d.str.slice(2), plan).alias("after86"),
    ).with_columns(
        # Without one: a leading 86 is the country code when that makes an invalid number valid in shape,
        # or when the number is too long to be anything else.
        pl.when(pl.col("cc86").is_not_null()).then(pl.col("cc86"))
        .when(d.str.starts_with("86") & (
            (~plan.general.shape(d) & plan.general.shape(pl.col("after86")).fill_null(False))
            | (d.str.len_chars() > max(plan.general.lengths))
        )).then(pl.col("after86"))
        .otherwise(d).alias("nsn0"),
    ).with_columns(_strip_national_prefix(pl.col("nsn0"), plan).alias("stripped")).with_columns(
        # The stripped number is used only when it is long enough to be a whole number.
        pl.when(pl.col("stripped").str.len_chars() >= min(plan.general.lengths)).then(pl.col("stripped"))
        .otherwise(pl.col("nsn0")).alias("nsn"),
    )
    nsn = pl.col("nsn")
    valid = plan.general.full(nsn) & nsn.str.len_chars().is_between(2, 17)
    special = pl.any_horizontal([x.full(nsn) for x in plan.special]) if plan.special else pl.lit(False)
    frame = frame.with_columns(
        (valid & ~special & plan.mobile.full(nsn)).fill_null(False).alias("mobile"),
        (valid & (special | plan.fixed.full(nsn))).fill_null(False).alias("other"),
    )
    out = frame.select(
        pl.when(~pl.col("blank") & pl.col("digits_only") & ~pl.col("foreign")
                & (pl.col("mobile") | pl.col("other")))
        .then(pl.lit("+86") + nsn).alias("phone"),
        pl.when(pl.col("blank")).then(pl.lit("missing_field"))
        .when(~pl.col("digits_only")).then(pl.lit("invalid_phone"))
        .when(pl.col("foreign")).then(pl.lit("?"))
        .when(pl.col("mobile")).then(pl.lit(None, pl.Utf8))
        .when(pl.col("other")).then(pl.lit("not_mobile"))
        .otherwise(pl.lit("invalid_phone"))
        .alias("reject"),
    )
    phone, reject = out["phone"], out["reject"]
    unsettled = (reject == "?").fill_null(False)
    if unsettled.any():
        idx = unsettled.arg_true()
        values = digits.gather(idx)
        table = {v: classify_phone(v, allow_international) for v in values.unique().to_list()}
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
    clean = s.str.contains(_cn_plan().mobile.pattern).fill_null(False)
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
