"""Generate the shipped holiday calendar files (src/dunning/data/calendar/<year>.csv) from chinese-calendar, once.

Run again only when a new chinese-calendar release adds years: ``python scripts/gen_calendar.py``. Each file is
validated by the same parser ``dunning calendar import`` uses, and checked day by day against the library.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from dunning.strategy.holidays import HolidayRange, HolidayYear, parse_year

OUT = Path(__file__).resolve().parents[1] / "src" / "dunning" / "data" / "calendar"


def _ranges(days: dict[date, str]) -> list[HolidayRange]:
    out: list[HolidayRange] = []
    for d in sorted(days):
        if out and out[-1].name == days[d] and out[-1].last + timedelta(days=1) == d:
            out[-1] = HolidayRange(days[d], out[-1].first, d)
        else:
            out.append(HolidayRange(days[d], d, d))
    return out


def main() -> None:
    holidays: dict[int, dict[date, str]] = defaultdict(dict)
    workdays: dict[int, dict[date, str]] = defaultdict(dict)
    for d, name in chinese_calendar.holidays.items():
        holidays[d.year][d] = str(name)
    for d, name in chinese_calendar.workdays.items():
        workdays[d.year][d] = str(name)
    OUT.mkdir(parents=True, exist_ok=True)
    for year in sorted(holidays):
        y = HolidayYear(year, tuple(_ranges(holidays[year])), tuple(sorted(workdays[year].items())))
        text = y.to_text().replace(f"# dunning holiday calendar {year}",
                                   f"# dunning holiday calendar {year} (generated from chinese-calendar "
                                   f"{chinese_calendar.__version__}; scripts/gen_calendar.py)")
        back = parse_year(text, f"{year}.csv")
        d = date(year, 1, 1)
        while d.year == year:
            on, name = chinese_calendar.get_holiday_detail(d)
            assert (back.holiday(d) is not None) == (on and name is not None), d
            assert back.makeup(d) == (name if not on else None), d
            d += timedelta(days=1)
        (OUT / f"{year}.csv").write_text(text, encoding="utf-8")
        print(f"{year}.csv: {len(back.holidays)} holidays, {len(back.workdays)} make-up days")


if __name__ == "__main__":
    main()
