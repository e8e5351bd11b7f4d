"""Fakes and factories shipped with the package: a realistic synthetic portfolio, a frozen clock.

``generate_portfolio`` is vectorised (NumPy + Polars): a million rows take about a second. The dirt it adds is
the dirt real exports carry, each kind at a small known share, so intake has something honest to reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏飞斌宇浩凯健俊帆晨晓欣怡婷雪琳慧丹宁")
MOBILE_PREFIXES = np.array(
    [130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159,
     166, 170, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 191, 198, 199]
)
PRODUCTS = ["随借随还", "分期贷", "信用卡分期", "消费贷", "装修分期"]
REGIONS = ["广东", "江苏", "浙江", "山东", "河南", "四川", "湖北", "湖南", "河北", "福建", "上海", "北京", "安徽", "陕西", "新疆"]

# Chinese headers, as a loan system's export would have them.
HEADERS = {
    "loan_id": "借款编号",
    "name": "姓名",
    "phone": "手机号",
    "amount_due": "应还金额",
    "due_date": "到期日",
    "penalty_rate": "日罚息率",
    "overdue_count": "逾期次数",
    "product": "产品",
    "payday": "发薪日",
    "region": "地区",
}


@dataclass(frozen=True, slots=True)
class DirtShares:
    """Share of rows given each kind of dirt (the rest stay clean, but spelled in varied ways)."""

    missing_field: float = 0.004
    invalid_phone: float = 0.004
    landline: float = 0.003
    invalid_amount: float = 0.002
    zero_amount: float = 0.002
    invalid_date: float = 0.002
    exact_duplicate: float = 0.004
    conflicting_duplicate: float = 0.002


def generate_portfolio(
    n: int, seed: int = 42, as_of: date | None = None, dirt: DirtShares | None = None, headers: str = "zh"
) -> pl.DataFrame:
    """A synthetic day's portfolio as the string columns an export would hold (headers Chinese by default)."""
    as_of = as_of or date.today()
    dirt = dirt or DirtShares()
    rng = np.random.default_rng(seed)

    ids = np.char.add("L", np.char.zfill((np.arange(n) + 10_000_001).astype(str), 9))
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    names = np.char.add(np.char.add(sur, g1), g2)
    prefixes = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)].astype(str)
    rest = np.char.zfill(rng.integers(0, 100_000_000, n).astype(str), 8)
    phones = np.char.add(prefixes, rest)
    # About 2 % of borrowers hold a second loan: same phone (and name), another loan id.
    shared = rng.random(n) < 0.02
    donors = rng.integers(0, n, n)
    phones = np.where(shared, phones[donors], phones)
    names = np.where(shared, names[donors], names)
    amounts = np.round(np.clip(rng.lognormal(mean=8.0, sigma=0.9, size=n), 50, 500_000), 2)
    due_offsets = rng.integers(-10, 181, n)  # DPD from -10 (10 days ahead) to 180
    due = np.datetime64(as_of) - due_offsets.astype("timedelta64[D]")
    rates = np.where(rng.random(n) < 0.8, 0.0005, np.where(rng.random(n) < 0.5, 0.0003, 0.0006))
    overdue = np.minimum(rng.poisson(0.8, n), 12)
    products = np.array(PRODUCTS)[rng.integers(0, len(PRODUCTS), n)]
    payday = np.where(rng.random(n) < 0.6, rng.integers(1, 29, n), 0)
    regions = np.array(REGIONS)[rng.integers(0, len(REGIONS), n)]

    df = pl.DataFrame(
        {
            "loan_id": ids,
            "name": names,
            "phone": phones,
            "amount": amounts,
            "due": pl.Series(due).cast(pl.Date),
            "penalty_rate": rates,
            "overdue_count": overdue,
            "product": products,
            "payday": payday,
            "region": regions,
            "u_fmt": rng.random(n),
            "u_dirt": rng.random(n),
        }
    )

    # Varied but valid spellings.
    u = pl.col("u_fmt")
    phone = (
        pl.when(u < 0.05).then(pl.concat_str([pl.lit("+86 "), pl.col("phone")]))
        .when(u < 0.10).then(pl.concat_str([pl.col("phone").str.slice(0, 3), pl.lit("-"),
                                           pl.col("phone").str.slice(3, 4), pl.lit("-"), pl.col("phone").str.slice(7)]))
        .when(u < 0.12).then(pl.concat_str([pl.lit("86"), pl.col("phone")]))
        .otherwise(pl.col("phone"))
    )
    amount_s = pl.col("amount").round(2).cast(pl.Utf8)
    amount = (
        pl.when(u < 0.08).then(pl.concat_str([pl.lit("¥"), amount_s]))
        .when(u < 0.12).then(pl.concat_str([amount_s, pl.lit("元")]))
        .otherwise(amount_s)
    )
    due_s = (
        pl.when(u < 0.85).then(pl.col("due").dt.strftime("%Y-%m-%d"))
        .when(u < 0.92).then(pl.col("due").dt.strftime("%Y/%-m/%-d"))
        .when(u < 0.96).then(pl.col("due").dt.strftime("%Y年%-m月%-d日"))
        .otherwise(pl.col("due").dt.strftime("%Y%m%d"))
    )
    rate_s = pl.when(u < 0.5).then(pl.col("penalty_rate").cast(pl.Utf8)).otherwise(
        pl.concat_str([(pl.col("penalty_rate") * 100).round(4).cast(pl.Utf8), pl.lit("%")])
    )
    df = df.with_columns(
        phone.alias("phone"), amount.alias("amount"), due_s.alias("due"), rate_s.alias("penalty_rate"),
        pl.col("overdue_count").cast(pl.Utf8),
        pl.when(pl.col("payday") > 0).then(pl.col("payday").cast(pl.Utf8)).otherwise(pl.lit("")).alias("payday"),
    )

    # Dirt, each kind in its own slice of u_dirt.
    edges = np.cumsum([0.0, dirt.missing_field, dirt.invalid_phone, dirt.landline, dirt.invalid_amount,
                       dirt.zero_amount, dirt.invalid_date])
    d = pl.col("u_dirt")

    def band(i: int) -> pl.Expr:
        return (d >= edges[i]) & (d < edges[i + 1])

    df = df.with_columns(
        pl.when(band(0)).then(pl.lit("")).otherwise(pl.col("phone")).alias("phone"),
    ).with_columns(
        pl.when(band(1)).then(pl.concat_str([pl.lit("12"), pl.col("phone").str.slice(-6)]))
        .when(band(2)).then(pl.concat_str([pl.lit("010-"), pl.col("phone").str.slice(-8)]))
        .otherwise(pl.col("phone")).alias("phone"),
        pl.when(band(3)).then(pl.lit("待定")).when(band(4)).then(pl.lit("0")).otherwise(pl.col("amount")).alias("amount"),
        pl.when(band(5)).then(pl.lit("2026-02-30")).otherwise(pl.col("due")).alias("due"),
    )
    out = df.select(
        pl.col("loan_id"), pl.col("name"), pl.col("phone"), pl.col("amount").alias("amount_due"),
        pl.col("due").alias("due_date"), pl.col("penalty_rate"), pl.col("overdue_count"), pl.col("product"),
        pl.col("payday"), pl.col("region"),
    )
    # Exact duplicates (repeat a row verbatim) and conflicting duplicates (same loan id, other amount).
    n_dup = int(n * dirt.exact_duplicate)
    n_conf = int(n * dirt.conflicting_duplicate)
    if n_dup or n_conf:
        picks = rng.choice(n, size=n_dup + n_conf, replace=False)
        dups = out[picks[:n_dup].tolist()]
        conf = out[picks[n_dup:].tolist()].with_columns(
            pl.concat_str([pl.col("name"), pl.lit("某")]).alias("name")
        )
        out = pl.concat([out, dups, conf]).sample(fraction=1.0, shuffle=True, seed=seed)
    if headers == "zh":
        out = out.rename(HEADERS)
    return out


@dataclass
class FrozenClock:
    """A clock for tests: ``now()`` returns the set instant until ``advance`` moves it."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)


def system_now() -> datetime:
    return datetime.now(UTC)
