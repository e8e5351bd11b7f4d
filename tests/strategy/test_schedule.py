"""Send windows in the recipient's zone and the schedule that spreads a campaign over them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from dunning.strategy import StrategySpec, parse_strategy
from dunning.strategy.model import Spread
from dunning.strategy.schedule import LegalWindow, in_window, region_zones, schedule, zone_window

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)
CN_LEGAL = LegalWindow(time(8, 0), time(22, 0), "Asia/Shanghai")
BASE = "segments:\n  - {name: a, steps: [{dpd: [1], template: M1}]}\n"


def sh(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 11, 23, hh, mm, ss, tzinfo=SH).astimezone(UTC)


def spec(extra: str = "") -> StrategySpec:
    return parse_strategy("name: t\n" + extra + BASE)[0]


def msgs(n: int, zone: str = "Asia/Shanghai", phones: list[str] | None = None,
         last: list[datetime | None] | None = None, order: list[int] | None = None) -> pl.DataFrame:
    return pl.DataFrame({
        "_i": list(range(n)), "zone": [zone] * n, "phone": phones or [f"p{i}" for i in range(n)],
        "loan_id": [f"L{zone}{i}" for i in range(n)], "last_contact": last or [None] * n,
        "_order": order or [1] * n,
    }, schema={"_i": pl.UInt32, "zone": pl.Utf8, "phone": pl.Utf8, "loan_id": pl.Utf8,
               "last_contact": pl.Datetime("us", "UTC"), "_order": pl.Int64})


def test_window_edges_are_start_inclusive_end_exclusive() -> None:
    s = spec("send_window: {start: '08:00', end: '22:00'}\n")
    w = zone_window(s, CN_LEGAL, DAY, "Asia/Shanghai", sh(7))
    assert in_window(w, sh(21, 59, 59)) and in_window(w, sh(8))
    assert not in_window(w, sh(22)) and not in_window(w, sh(7, 59, 59))


def test_strategy_window_is_clipped_to_the_legal_window() -> None:
    s = spec("send_window: {start: '07:00', end: '23:00'}\n")
    w = zone_window(s, CN_LEGAL, DAY, "Asia/Shanghai", sh(6))
    assert w.local_text() == "08:00–22:00"


def test_a_region_in_another_zone_gets_its_local_window_within_the_legal_one() -> None:
    s = spec("region_timezones: {新疆: Asia/Urumqi}\n")
    assert region_zones(s) == {"新疆": "Asia/Urumqi"}
    w = zone_window(s, CN_LEGAL, DAY, "Asia/Urumqi", sh(6))
    # 09:00–20:30 Urumqi (UTC+6) is 11:00–22:30 Beijing; the legal end 22:00 Beijing wins.
    assert (w.opens, w.closes) == (sh(11), sh(22))
    us = parse_strategy("name: u\nprofile: US\ntimezone: America/New_York\n" + BASE)[0]
    us_legal = LegalWindow(time(8, 0), time(21, 0), None)
    la = zone_window(us, us_legal, DAY, region_zones(us)["CA"], sh(0))
    assert la.local_text() == "09:00–20:30"
    assert la.opens == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 09:00 PST


def test_rate_mode_paces_at_the_channel_rate_and_reports_what_cannot_fit() -> None:
    s = spec()
    w = zone_window(s, CN_LEGAL, DAY, "Asia/Shanghai", sh(20, 29, 30))
    out = schedule(msgs(5), {"Asia/Shanghai": w}, rate=0.1, spread=Spread(), min_interval_hours=0, seed=1)
    times = sorted(t for t in out["scheduled_at"].to_list() if t is not None)
    assert times == [sh(20, 29, 30), sh(20, 29, 40), sh(20, 29, 50)]
    assert sorted(out["sched_reason"].to_list(), key=lambda r: r or "") == [None, None, None, "window", "window"]
    assert set(out["send_before"].to_list()) == {sh(20, 30)}


def test_even_mode_spreads_over_the_whole_window_leaving_the_reserve() -> None:
    s = spec("send_window: {start: '09:00', end: '10:00'}\n")
    w = zone_window(s, CN_LEGAL, DAY, "Asia/Shanghai", sh(6))
    out = schedule(msgs(10), {"Asia/Shanghai": w}, rate=1000, spread=Spread(mode="even", reserve_minutes=10),
                   min_interval_hours=0, seed=1)
    times = sorted(out["scheduled_at"].to_list())
    assert times == [sh(9) + timedelta(minutes=5 * k) for k in range(10)]


def test_zones_share_the_channel_rate() -> None:
    s = spec("region_timezones: {新疆: Asia/Urumqi}\n")
    ws = {z: zone_window(s, CN_LEGAL, DAY, z, sh(6)) for z in ("Asia/Shanghai", "Asia/Urumqi")}
    frame = pl.concat([msgs(30), msgs(10, zone="Asia/Urumqi")])
    out = schedule(frame, ws, rate=4, spread=Spread(), min_interval_hours=0, seed=1)
    first_second = out.filter(pl.col("scheduled_at") < sh(9, 0, 1))
    assert first_second.height == 3  # Shanghai at 3/s; Urumqi (1/s) opens at 11:00
    # Never more than the rate in any second while both zones send.
    both = out.filter(pl.col("scheduled_at") >= sh(11)).with_columns(pl.col("scheduled_at").dt.truncate("1s"))
    busiest = both.group_by("scheduled_at").len()["len"].max()
    assert both.height == 10 and isinstance(busiest, int) and busiest <= 4


def test_minimum_interval_counts_from_the_last_contact_and_between_own_messages() -> None:
    s = spec()
    w = zone_window(s, CN_LEGAL, DAY, "Asia/Shanghai", sh(6))
    yesterday_15 = sh(15) - timedelta(days=1)
    frame = msgs(4, phones=["a", "b", "b", "c"], last=[yesterday_15, None, None, sh(1)], order=[1, 1, 2, 1])
    out = schedule(frame, {"Asia/Shanghai": w}, rate=1000, spread=Spread(), min_interval_hours=20, seed=1)
    got = dict(zip(out["_i"].to_list(), zip(out["scheduled_at"].to_list(), out["sched_reason"].to_list(),
                                            strict=True), strict=True))
    assert got[0] == (sh(11), None)  # 15:00 yesterday + 20 h
    assert got[1][1] is None and got[2] == (None, "budget")  # a second message 20 h later: after the window
    assert got[3] == (None, "budget")  # contacted at 01:00 today: next allowed 21:00, after 20:30
    out2 = schedule(frame, {"Asia/Shanghai": w}, rate=1000, spread=Spread(), min_interval_hours=2, seed=1)
    b = sorted(t for t, p in zip(out2["scheduled_at"], frame["phone"], strict=True) if p == "b")
    assert b[1] - b[0] >= timedelta(hours=2)
