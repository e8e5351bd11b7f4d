"""One year of statutory holidays as policy data: the calendar file, its parser and its validation.

A calendar file holds one year, one entry per line (CSV; ``#`` starts a comment)::

    kind,name,first,last
    holiday,Spring Festival,2027-02-05,2027-02-13
    workday,Spring Festival,2027-02-14,

``holiday`` is a statutory holiday from ``first`` to ``last`` (inclusive); ``workday`` is a make-up working day
(调休上班) on ``first``. Names come from the known set (:data:`HOLIDAY_NAMES`, in English or Chinese). A file is
refused, naming the line at fault, when a line is malformed, a date lies outside the file's year, two holidays
overlap, a make-up day falls inside a holiday or is not a Saturday or Sunday. Days a file does not list are
ordinary: weekdays work, weekends rest.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from dunning.errors import InputError

# English name (as chinese-calendar spells it) → Chinese name.
HOLIDAY_NAMES: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
_ALIASES: dict[str, str] = {
    **{k.casefold(): k for k in HOLIDAY_NAMES},
    **{v: k for k, v in HOLIDAY_NAMES.items()},
    "清明": "Tomb-sweeping Day", "端午": "Dragon Boat Festival", "中秋": "Mid-autumn Festival", "国庆": "National Day",
}
HEADER = "kind,name,first,last"


class CalendarFileError(InputError, code="calendar.invalid_file"): ...


@dataclass(frozen=True, slots=True)
class HolidayRange:
    name: str
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class HolidayYear:
    """The statutory holidays and make-up working days of one year."""

    year: int
    holidays: tuple[HolidayRange, ...]
    workdays: tuple[tuple[date, str], ...]  # (day, the holiday it makes up for)
    _holiday_days: dict[date, str] = field(init=False, repr=False, compare=False)
    _workday_days: dict[date, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days: dict[date, str] = {}
        for h in self.holidays:
            d = h.first
            while d <= h.last:
                days[d] = h.name
                d += timedelta(days=1)
        object.__setattr__(self, "_holiday_days", days)
        object.__setattr__(self, "_workday_days", dict(self.workdays))

    def holiday(self, day: date) -> str | None:
        return self._holiday_days.get(day)

    def makeup(self, day: date) -> str | None:
        return self._workday_days.get(day)

    def to_text(self) -> str:
        """The canonical file text (what is stored and shown; parses back to an equal year)."""
        lines = [f"# dunning holiday calendar {self.year}", HEADER]
        lines += [f"holiday,{h.name},{h.first.isoformat()},{h.last.isoformat()}" for h in self.holidays]
        lines += [f"workday,{name},{d.isoformat()}," for d, name in self.workdays]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, object]:
        return {
            "year": self.year,
            "holidays": [{"name": h.name, "name_zh": HOLIDAY_NAMES[h.name], "first": h.first.isoformat(),
                          "last": h.last.isoformat(), "days": (h.last - h.first).days + 1} for h in self.holidays],
            "workdays": [{"day": d.isoformat(), "weekday": d.isoweekday(), "name": n, "name_zh": HOLIDAY_NAMES[n]}
                         for d, n in self.workdays],
        }


def _fail(source: str, line: int, zh: str, en: str) -> CalendarFileError:
    return CalendarFileError(f"{source} 第 {line} 行：{zh}", f"{source} line {line}: {en}")


def _date(raw: str, source: str, line: int) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise _fail(source, line, f"日期应为 YYYY-MM-DD：{raw!r}", f"a date must be YYYY-MM-DD: {raw!r}") from None


def parse_year(text: str, source: str = "calendar") -> HolidayYear:
    """Parse and validate one year's calendar file (see the module docstring); raises CalendarFileError."""
    holidays: list[tuple[int, HolidayRange]] = []
    workdays: list[tuple[int, date, str]] = []
    year: int | None = None
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#") or ",".join(cells[:4]).lower() == HEADER:
            continue
        while len(cells) < 4:
            cells.append("")
        kind, raw_name, raw_first, raw_last = cells[:4]
        if len(cells) > 4 and any(cells[4:]):
            raise _fail(source, line, "多余的列（应为 kind,name,first,last）",
                        "too many columns (expected kind,name,first,last)")
        name = _ALIASES.get(raw_name) or _ALIASES.get(raw_name.casefold())
        if name is None:
            known = "、".join(HOLIDAY_NAMES.values())
            raise _fail(source, line, f"未知的节日名称 {raw_name!r}（可用：{known}）",
                        f"unknown holiday name {raw_name!r} (known: {', '.join(HOLIDAY_NAMES)})")
        first = _date(raw_first, source, line)
        if year is None:
            year = first.year
        if kind == "holiday":
            last = _date(raw_last, source, line) if raw_last else first
            if last < first:
                raise _fail(source, line, f"结束日期 {last} 早于开始日期 {first}", f"last day {last} is before {first}")
            days = [first, last]
        elif kind == "workday":
            if raw_last and _date(raw_last, source, line) != first:
                raise _fail(source, line, "调休上班每行只写一天", "a make-up working day is one day per line")
            if first.weekday() < 5:
                raise _fail(source, line, f"调休上班日 {first} 不是周六或周日",
                            f"make-up working day {first} is not a Saturday or Sunday")
            days = [first]
        else:
            raise _fail(source, line, f"第一列应为 holiday 或 workday，而不是 {kind!r}",
                        f"the first column must be holiday or workday, not {kind!r}")
        for d in days:
            if d.year != year:
                raise _fail(source, line, f"{d} 不属于本文件的年份 {year}（一个文件只写一年）",
                            f"{d} is not in this file's year {year} (one year per file)")
        if kind == "holiday":
            new = HolidayRange(name, first, days[1])
            for _, h in holidays:
                if new.first <= h.last and h.first <= new.last:
                    raise _fail(source, line, f"与 {HOLIDAY_NAMES[h.name]} {h.first}～{h.last} 重叠",
                                f"overlaps {h.name} {h.first}..{h.last}")
            holidays.append((line, new))
        else:
            if any(d == first for _, d, _ in workdays):
                raise _fail(source, line, f"调休上班日 {first} 重复", f"make-up working day {first} is listed twice")
            workdays.append((line, first, name))
    if year is None:
        raise CalendarFileError(f"{source}：没有任何节假日", f"{source}: no holidays in the file")
    for line, d, _ in workdays:
        for _, h in holidays:
            if h.first <= d <= h.last:
                raise _fail(source, line, f"调休上班日 {d} 落在 {HOLIDAY_NAMES[h.name]} 假期内",
                            f"make-up working day {d} falls inside {h.name}")
    return HolidayYear(year, tuple(sorted((h for _, h in holidays), key=lambda h: h.first)),
                       tuple(sorted((d, n) for _, d, n in workdays)))
