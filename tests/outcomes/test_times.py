"""The one Polars helper for stored times: text or datetimes, naive (UTC) or with an offset, all to UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest

from dunning.db.frames import UTC_US, to_utc, utc_times

NOON = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("stored", "expected"), [
    ("2026-11-16 12:00:00", NOON),  # naive text: what the ORM writes on SQLite, read as UTC
    ("2026-11-16 12:00:00.250000", NOON + timedelta(milliseconds=250)),
    ("2026-11-16T20:00:00+08:00", NOON),  # a zoned value bulk-inserted as text
    ("2026-11-16 20:00:00+0800", NOON),
    ("2026-11-16 12:00:00Z", NOON),
    ("2026-11-16 08:30:00-03:30", NOON),
    (None, None),
])
def test_stored_text_becomes_utc(stored: str | None, expected: datetime | None) -> None:
    got = pl.DataFrame({"t": [stored]}, schema={"t": pl.String}).select(utc_times("t"))
    assert got.schema["t"] == UTC_US
    assert got.item() == expected


def test_datetimes_naive_or_zoned_become_utc_microseconds() -> None:
    naive = pl.Series("t", [datetime(2026, 11, 16, 12, 0)], dtype=pl.Datetime("ns"))
    shanghai = pl.Series("t", [datetime(2026, 11, 16, 20, 0, tzinfo=timezone(timedelta(hours=8)))]
                         ).dt.convert_time_zone("Asia/Shanghai")
    for s in (naive, shanghai):
        out = to_utc(s)
        assert out.dtype == UTC_US
        assert out.to_list() == [NOON]


def test_an_all_null_column_is_an_empty_utc_column_and_numbers_are_refused() -> None:
    assert to_utc(pl.Series("t", [None, None])).dtype == UTC_US
    with pytest.raises(TypeError):
        to_utc(pl.Series("t", [1, 2]))
