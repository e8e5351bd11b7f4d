"""Chinese mobile carriers: which network a number belongs to, from its number segment (MIIT allocations).

:data:`CARRIER_ZH` names every carrier code in Chinese and English; :func:`carrier_expr` maps a column of E.164
phones to those codes in one Polars expression (no per-row Python).
"""

from __future__ import annotations

import polars as pl

CARRIER_ZH = {
    "china_mobile": "中国移动 China Mobile",
    "china_unicom": "中国联通 China Unicom",
    "china_telecom": "中国电信 China Telecom",
    "china_broadnet": "中国广电 China Broadnet",
    "unknown_cn": "未知号段 unknown CN prefix",
    "international": "境外号码 international",
    "none": "无号码 no number",
}

# Number-segment allocations of the MIIT (incl. virtual-operator 170/171/162/165/167 hosted by each network).
_PREFIX3: dict[str, str] = {
    **dict.fromkeys(["134", "135", "136", "137", "138", "139", "147", "148", "150", "151", "152", "157", "158",
                     "159", "165", "172", "178", "182", "183", "184", "187", "188", "195", "197", "198"],
                    "china_mobile"),
    **dict.fromkeys(["130", "131", "132", "145", "146", "155", "156", "166", "167", "171", "175", "176", "185",
                     "186", "196"], "china_unicom"),
    **dict.fromkeys(["133", "149", "153", "162", "173", "174", "177", "180", "181", "189", "190", "191", "193",
                     "199"], "china_telecom"),
    "192": "china_broadnet",
}
# Four-digit blocks that belong to another network than their three-digit segment.
_PREFIX4: dict[str, str] = {
    "1349": "china_telecom",  # satellite block inside China Mobile's 134
    **dict.fromkeys(["1700", "1701", "1702"], "china_telecom"),
    **dict.fromkeys(["1703", "1705", "1706"], "china_mobile"),
    **dict.fromkeys(["1704", "1707", "1708", "1709"], "china_unicom"),
}


def carrier_expr(phone: str | pl.Expr = "phone") -> pl.Expr:
    """The carrier of an E.164 phone (``+86…``) from its number segment, as a code of :data:`CARRIER_ZH`.

    One expression over the column: a four-digit exception table, then the three-digit table."""
    col = pl.col(phone) if isinstance(phone, str) else phone
    national = col.str.strip_prefix("+86")
    # Stored phones are normalised E.164 (digits only after "+"): a length and a leading 1 settle the shape.
    is_cn = col.str.starts_with("+86") & (national.str.len_bytes() == 11) & national.str.starts_with("1")
    p4 = national.str.slice(0, 4).replace_strict(_PREFIX4, default=None, return_dtype=pl.String)
    p3 = national.str.slice(0, 3).replace_strict(_PREFIX3, default="unknown_cn", return_dtype=pl.String)
    return (
        pl.when(col.is_null()).then(pl.lit("none"))
        .when(is_cn).then(pl.coalesce(p4, p3))
        .when(col.str.starts_with("+86")).then(pl.lit("unknown_cn"))
        .otherwise(pl.lit("international"))
    )
