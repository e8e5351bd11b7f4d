"""``penalty.excessive``: a stated penalty rate must be the contract's and within the legal line.

A rate is read where a penalty or interest word (罚息, 违约金, 利息, penalty, interest...) is in the same sentence:
a percentage (``2%``, ``0.05%``, ``5‰``) or a Chinese fraction (``万分之五``), with its period taken from the
words just before or after it (每日/日息/daily → per day, 每月/月息 → /30, 年化/年利率/APR → /365).

* block — the daily rate exceeds the ceiling (24 % a year / 365 ≈ 0.0657 % a day by default), or the message
  states a daily rate different from the account's contractual ``penalty_rate``;
* warn — the period is not stated ("收取2%的罚息": per day? once?), so it cannot be checked.

The vectorised screen settles the common case (one daily rate, within the line, equal to the contract) without
looking at rows one by one; the rest go through :func:`check`, which applies the same windows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import polars as pl

from dunning.compliance.findings import BLOCK, WARN, Finding, rules_of
from dunning.compliance.policy import Policy
from dunning.compliance.rules._common import any_word_expr, ascii_lower

NAME = "penalty"
RULES = rules_of(NAME)
STOP = "，,。；;！!？?\n"
RATE = (rf"(?P<pre>[^0-9{STOP}]{{0,12}})(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[%％‰])"
        rf"(?P<post>[^0-9{STOP}]{{0,8}})")
RATE_RS = RATE.replace("\n", "\\n")
FRACTION = r"(?P<pre>[^0-9，,。；;！!？?\n]{0,12})(?P<kind>万分之|千分之|百分之)(?P<num>\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百]+)"
DAILY = r"每日|每天|按日|按天|日息|日利率|日罚息|日费率|/日|/天|(?i:daily|per day|a day)"
MONTHLY = r"每月|按月|月息|月利率|(?i:monthly|per month|a month)"
ANNUAL = r"年化|每年|按年|年息|年利率|(?i:annual|annually|per year|a year|APR|p\.a\.)"
PERIOD_DAYS = {"daily": 1, "monthly": 30, "annual": 365}
TOLERANCE = 5e-7  # rendering keeps 1e-6 of a fraction (0.0001 %): equal within half of that
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        pass
    total, cur = 0, 0
    for ch in s:
        if ch in CN_DIGITS:
            cur = CN_DIGITS[ch]
        elif ch == "十":
            total += (cur or 1) * 10
            cur = 0
        elif ch == "百":
            total += (cur or 1) * 100
            cur = 0
        else:
            return None
    return float(total + cur)


def _period(pre: str, post: str) -> str | None:
    for window in (post, pre):
        found = [(m.end(), kind) for kind, pat in (("daily", DAILY), ("monthly", MONTHLY), ("annual", ANNUAL))
                 for m in re.finditer(pat, window)]
        if found:
            # the period word nearest to the number: the last one before it, the first one after it
            return max(found)[1] if window is pre else min(found)[1]
    return None


def _sentence(text: str, start: int, end: int) -> str:
    lo = max((text.rfind(c, 0, start) for c in "。；;！!？?\n"), default=-1) + 1
    his = [i for i in (text.find(c, end) for c in "。；;！!？?\n") if i >= 0]
    return text[lo:min(his) if his else len(text)]


def rates(text: str, penalty_words: tuple[str, ...]) -> Iterator[tuple[int, int, float, str | None]]:
    """Every stated rate in a penalty/interest sentence: ``(start, end, daily_or_stated_fraction, period)``.

    For a known period the value is converted to a daily fraction; for ``None`` it is the stated fraction."""
    words = [ascii_lower(w) for w in penalty_words]
    for m in re.finditer(RATE, text):
        if not any(w in ascii_lower(_sentence(text, m.start(), m.end())) for w in words):
            continue
        value = float(m.group("num")) / (1000 if m.group("unit") == "‰" else 100)
        period = _period(m.group("pre"), m.group("post"))
        yield (m.start("num"), m.end("unit"), value / PERIOD_DAYS[period] if period else value, period)
    for m in re.finditer(FRACTION, text):
        if not any(w in ascii_lower(_sentence(text, m.start(), m.end())) for w in words):
            continue
        n = _cn_number(m.group("num"))
        if n is None:
            continue
        value = n / {"万分之": 10_000, "千分之": 1000, "百分之": 100}[m.group("kind")]
        tail = text[m.end():m.end() + 8]
        period = _period(m.group("pre"), re.split(r"[，,。；;！!？?\n]", tail)[0])
        yield (m.start("kind"), m.end("num"), value / PERIOD_DAYS[period] if period else value, period)


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    out = []
    ceiling = policy.daily_rate_ceiling
    for start, end, value, period in rates(text, policy.penalty_words):
        stated = text[start:end]
        if period is not None and value > ceiling * (1 + 1e-9):
            out.append(Finding("penalty.excessive", BLOCK, start, end,
                               f"所述利率「{stated}」折合日利率 {value:.4%}，超过法定上限（约年化24%，即日 {ceiling:.4%}）。",
                               f"stated rate {stated} is {value:.4%} a day, above the ceiling of {ceiling:.4%} "
                               "(about 24% a year)"))
        elif penalty is not None and period in ("daily", None) and abs(value - penalty) > TOLERANCE:
            out.append(Finding("penalty.excessive", BLOCK, start, end,
                               f"所述日罚息「{stated}」与合同约定的 {penalty:.4%}/日 不符：只能陈述合同约定的罚息。",
                               f"stated rate {stated} differs from the contract's {penalty:.4%} a day"))
        elif period is None:
            out.append(Finding("penalty.excessive", WARN, start, end,
                               f"利率「{stated}」未注明计息周期（每日/每月/年化），无法核对是否合规。",
                               f"rate {stated} states no period (per day / month / year); it cannot be checked"))
    return out


def trips(policy: Policy) -> pl.Expr:
    if not policy.penalty_words:
        return pl.lit(False)
    t = pl.col("text")
    # literal tests only; the penalty words are looked for in refine(), on the rows that state a rate
    return (t.str.contains("%", literal=True) | t.str.contains("％", literal=True) | t.str.contains("‰", literal=True)
            | t.str.contains("分之", literal=True))


DAILY_CN = ("每日", "每天", "按日", "按天", "日息", "日利率", "日罚息", "日费率", "/日", "/天")
OTHER_PERIOD = ("每月", "按月", "月息", "月利率", "monthly", "per month", "a month", "年化", "每年", "按年", "年息",
                "年利率", "annual", "per year", "a year", "APR", "p.a.")
# a daily word ending at most 9 characters before the rate: always inside check()'s 12-character window
DAILY_BEFORE = (f"(?:{'|'.join(re.escape(w) for w in DAILY_CN)})[^0-9{STOP}]{{0,9}}([0-9]+(?:\\.[0-9]+)?) *[%％]"
                .replace("\n", "\\n"))


def refine(rows: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Of the rows that state a rate, keep those :func:`check` may flag. A row is cleared only when it is
    certainly fine: exactly one percentage, a daily word just before it and no other period word anywhere, the
    rate within the line and equal to the contract's (cleared rows are a subset of what check() passes)."""
    t = pl.col("text")
    n_pct = t.str.count_matches("%", literal=True) + t.str.count_matches("％", literal=True)
    # the number after a daily word (null when the rate is not introduced as daily)
    value = t.str.extract(DAILY_BEFORE, 1).cast(pl.Float64, strict=False) / 100
    clear = (
        (n_pct == 1) & ~t.str.contains("‰", literal=True) & ~t.str.contains("分之", literal=True)
        & value.is_not_null() & ~any_word_expr("text", OTHER_PERIOD)
        & (value <= policy.daily_rate_ceiling * (1 + 1e-9))
        & (pl.col("_penalty").is_null() | ((value - pl.col("_penalty")).abs() <= TOLERANCE))
    )
    return rows.filter(~clear.fill_null(False))
