"""When each message goes: the recipient's send window and a schedule that spreads a campaign over it.

Windows are local wall-clock hours in the recipient's time zone (the strategy's ``timezone``, or the zone its
``region`` implies), clipped to the policy's legal window in that local time and — when the policy names a
zone of its own (CN: Asia/Shanghai) — in that zone too, so a message is lawful by either reading.

The schedule is computed per zone (a handful of groups, never per row in Python): each zone gets a share of
the channel's rate proportional to its number of messages, so the sum never exceeds the rate at any instant.
Within a zone, messages are ordered by a seeded hash, which interleaves segments and variants over the day:
the time of day a message went out is then no confounder of a champion/challenger comparison.

The contact budget's minimum interval pushes a phone's message to at least ``min_interval_hours`` after its
last contact (what was actually sent) and after its previous message in this campaign; one that cannot fit
before the window closes is suppressed as ``budget``; one the rate cannot fit is suppressed as ``window``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from dunning.strategy.model import Spread, StrategySpec

_HASH_SEED = 0x5C4ED
UTC_US = pl.Datetime("us", "UTC")

# Majority zone of each US state (a strategy's ``region_timezones`` overrides any of these).
US_STATE_ZONES: dict[str, str] = {
    **dict.fromkeys(["CT", "DE", "DC", "FL", "GA", "IN", "ME", "MD", "MA", "MI", "NH", "NJ", "NY", "NC", "OH",
                     "PA", "RI", "SC", "VT", "VA", "WV", "KY"], "America/New_York"),
    **dict.fromkeys(["AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD", "TN", "TX",
                     "WI"], "America/Chicago"),
    **dict.fromkeys(["CO", "ID", "MT", "NM", "UT", "WY"], "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(["CA", "NV", "OR", "WA"], "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
}


def region_zones(spec: StrategySpec) -> dict[str, str]:
    """Region → IANA zone: the profile's defaults (US states), overridden by the strategy's own map."""
    base = dict(US_STATE_ZONES) if spec.profile == "US" else {}
    return base | dict(spec.region_timezones)


def zone_expr(spec: StrategySpec) -> pl.Expr:
    """Each account's time zone, from its region (unknown or missing region: the strategy's zone)."""
    mapping = region_zones(spec)
    if not mapping:
        return pl.lit(spec.timezone)
    return pl.col("region").replace_strict(mapping, default=spec.timezone, return_dtype=pl.Utf8).fill_null(
        spec.timezone)


@dataclass(frozen=True, slots=True)
class LegalWindow:
    start: time
    end: time
    tz: str | None = None  # a zone the policy itself names; None: the recipient's local time only


def _hhmm(value: Any, default: time) -> time:
    if value is None:
        return default
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 08:00 as sexagesimal minutes
        return time(value // 60, value % 60)
    hh, mm = str(value).split(":")[:2]
    return time(int(hh), int(mm))


def legal_window(policy_raw: Mapping[str, Any]) -> LegalWindow:
    """The policy's legal contact window (``contact_window.legal_allowed``); 08:00–21:00 when absent."""
    cw = policy_raw.get("contact_window") or {}
    legal = cw.get("legal_allowed") or {}
    return LegalWindow(_hhmm(legal.get("start"), time(8, 0)), _hhmm(legal.get("end"), time(21, 0)),
                       cw.get("timezone"))


@dataclass(frozen=True, slots=True)
class ZoneWindow:
    """One zone's window on the planning day, in UTC: ``opens``–``closes`` (end exclusive). ``earliest`` is
    when scheduling may start (the opening, or now when planning inside the window)."""

    zone: str
    opens: datetime
    closes: datetime
    earliest: datetime

    @property
    def empty(self) -> bool:
        return self.earliest >= self.closes

    def local_text(self) -> str:
        z = ZoneInfo(self.zone)
        return f"{self.opens.astimezone(z):%H:%M}–{self.closes.astimezone(z):%H:%M}"


def _at(day: date, t: time, zone: str) -> datetime:
    return datetime.combine(day, t, ZoneInfo(zone)).astimezone(UTC)


def zone_window(spec: StrategySpec, legal: LegalWindow, as_of: date, zone: str, now: datetime) -> ZoneWindow:
    """The window of recipients in ``zone`` on ``as_of``: strategy ∩ legal (local) ∩ legal (policy zone)."""
    start = max(spec.send_window.start, legal.start)
    end = min(spec.send_window.end, legal.end)
    opens, closes = _at(as_of, start, zone), _at(as_of, end, zone)
    if legal.tz is not None and legal.tz != zone:
        opens = max(opens, _at(as_of, legal.start, legal.tz))
        closes = min(closes, _at(as_of, legal.end, legal.tz))
    now_utc = now.astimezone(UTC)
    earliest = max(opens, now_utc.replace(microsecond=0) + timedelta(seconds=1) if now_utc.microsecond else now_utc)
    return ZoneWindow(zone, opens, closes, earliest)


def in_window(window: ZoneWindow, at: datetime) -> bool:
    """Whether a send at ``at`` is inside the window (the closing minute itself is outside)."""
    return window.opens <= at < window.closes


def schedule(frame: pl.DataFrame, windows: Mapping[str, ZoneWindow], *, rate: float, spread: Spread,
             min_interval_hours: float, seed: int) -> pl.DataFrame:
    """Schedule the messages that may go (``frame``: ``_i``, ``zone``, ``phone``, ``loan_id``, ``last_contact``
    (UTC, nullable) and ``_order`` (1-based rank of the message among its phone's messages in this campaign).

    Returns ``_i``, ``scheduled_at``, ``send_after``, ``send_before`` (UTC) and ``sched_reason``: null when
    scheduled, ``window`` when the window has no room, ``budget`` when the minimum interval pushes it out.
    """
    out_schema: dict[str, Any] = {"_i": pl.UInt32, "scheduled_at": UTC_US, "send_after": UTC_US,
                                  "send_before": UTC_US, "sched_reason": pl.Utf8}
    if frame.is_empty():
        return pl.DataFrame(schema=out_schema)
    total = frame.height
    effective_rate = max(rate * spread.rate_share, 1e-9)
    reserve = timedelta(minutes=spread.reserve_minutes)
    parts: list[pl.DataFrame] = []
    for group in frame.partition_by("zone", maintain_order=True):
        zone = str(group["zone"][0])
        w = windows[zone]
        last = w.closes - reserve
        avail = (last - w.earliest).total_seconds()
        n = group.height
        zone_rate = effective_rate * n / total
        spacing = 1.0 / zone_rate
        if spread.mode == "even" and avail > 0:
            spacing = max(spacing, avail / n)
        g = group.with_columns(
            pl.concat_str([pl.col("loan_id"), pl.lit(f"|{seed}")]).hash(_HASH_SEED).rank("ordinal").alias("_slot")
        ).with_columns(((pl.col("_slot") - 1).cast(pl.Float64) * spacing).alias("_offset"))
        fits = pl.col("_offset") < avail
        g = g.with_columns(
            pl.when(fits).then(pl.lit(w.earliest).cast(UTC_US) + pl.duration(
                microseconds=(pl.col("_offset") * 1e6).cast(pl.Int64))).otherwise(None).alias("scheduled_at"),
            pl.lit(w.opens).cast(UTC_US).alias("send_after"),
            pl.lit(w.closes).cast(UTC_US).alias("send_before"),
            pl.when(fits).then(pl.lit(None, pl.Utf8)).otherwise(pl.lit("window")).alias("sched_reason"),
        )
        if min_interval_hours > 0:
            g = _apply_interval(g, min_interval_hours, last)
        parts.append(g.select(list(out_schema)))
    return pl.concat(parts).cast(out_schema)  # type: ignore[arg-type]


def _apply_interval(g: pl.DataFrame, hours: float, last: datetime) -> pl.DataFrame:
    """Push messages to honour the minimum interval: the k-th message of a phone (k from 0, among those with a
    slot) goes at max(slot_k, previous + I, last_contact + I); in closed form
    k·I + max(last_contact + I, cummax_j≤k(slot_j − j·I)), vectorised per phone."""
    interval_us = int(hours * 3600 * 1_000_000)
    ok = g.filter(pl.col("sched_reason").is_null())
    if ok.is_empty():
        return g
    us = pl.col("scheduled_at").dt.epoch("us")
    ok = ok.with_columns(
        (pl.col("_order").rank("ordinal").over("phone") - 1).cast(pl.Int64).alias("_k"),
    ).with_columns(
        (us - pl.col("_k") * interval_us).alias("_t"),
    ).with_columns(
        pl.col("_t").cum_max().over("phone", order_by="_k").alias("_cm"),
    )
    floor = pl.col("last_contact").dt.epoch("us") + interval_us
    pushed = pl.max_horizontal(pl.col("_cm"), floor) + pl.col("_k") * interval_us
    last_us = int(last.timestamp() * 1_000_000)
    ok = ok.with_columns(
        pl.when(pushed < last_us).then(pl.from_epoch(pushed, time_unit="us").dt.replace_time_zone("UTC"))
        .otherwise(None).alias("scheduled_at"),
        pl.when(pushed < last_us).then(pl.lit(None, pl.Utf8)).otherwise(pl.lit("budget")).alias("sched_reason"),
    ).drop("_k", "_t", "_cm")
    rest = g.filter(pl.col("sched_reason").is_not_null())
    return pl.concat([ok, rest], how="vertical_relaxed")
