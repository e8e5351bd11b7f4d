"""What the list filters share (messages, replies, audit, campaigns, imports, users).

* ``class XFilter(Filter)`` declares a filter: it is made a frozen dataclass of the fields it names (every one
  optional); :meth:`Filter.params` are the fields that are set (not None, not ""), in declaration order, for
  links that keep the filter.
* :func:`local_days` — the conditions that keep a timestamp column within local dates ``since`` … ``until``
  (both inclusive, in the business time zone; either may be None).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, dataclass_transform

from dunning.services.context import AppContext


@dataclass_transform(frozen_default=True)
class Filter:
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True)(cls)

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)  # type: ignore[arg-type]
                if getattr(self, f.name) not in (None, "")}


def local_days(ctx: AppContext, column: Any, since: date | None, until: date | None) -> list[Any]:
    def midnight(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), ctx.tz).astimezone(UTC)

    conds: list[Any] = []
    if since:
        conds.append(column >= midnight(since))
    if until:
        conds.append(column < midnight(until + timedelta(days=1)))
    return conds
