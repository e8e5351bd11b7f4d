"""How the report shows a value: one formatter per kind of figure ("—" for a missing one), and :data:`KINDS`, the
column kinds of a report table (how a value is shown on a page and stored in a spreadsheet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

__all__ = ["KINDS", "MISSING", "count", "days", "p_value", "pct", "pp", "signed_pp", "text", "yuan"]


MISSING = "—"


def _formatter(spec: str, *, cast: Callable[[Any], Any] | None = None, scale: float | None = None,
               prefix: str = "", unit: str = "") -> Callable[[Any], str]:
    """A formatter: :data:`MISSING` for None, else ``prefix + format(value, spec) + unit`` (the value cast or
    scaled first)."""

    def show(v: Any) -> str:
        if v is None:
            return MISSING
        if cast is not None:
            v = cast(v)
        return prefix + format(v if scale is None else v * scale, spec) + unit

    return show


count = _formatter(",", cast=int)  # accounts, messages…: 12,345
pct = _formatter(".1%")  # a share as a percentage: 12.3%
signed_pp = _formatter("+.1f", scale=100, unit="pp")  # a difference of two shares: +1.2pp
pp = _formatter("+.1f")  # a value already in percentage points (a spreadsheet cell): +1.2
yuan = _formatter(",.2f", prefix="¥")  # an amount in yuan (a spreadsheet cell): ¥1,234.50
days = _formatter(".1f")
text = _formatter("", cast=str)


def p_value(v: Any) -> str:
    return MISSING if v is None else ("<0.001" if v < 0.001 else f"{v:.3f}")


# kind -> (format a spreadsheet value for a page, turn a raw column into the spreadsheet value)
KINDS: dict[str, tuple[Callable[[Any], str], Callable[[pl.Expr], pl.Expr]]] = {
    "int": (count, lambda e: e),
    "pct": (pct, lambda e: e.round(4)),
    "pp": (pp, lambda e: (e * 100).round(2)),
    "yuan": (yuan, lambda e: (e / 100).round(2)),
    "days": (days, lambda e: e.round(2)),
    "p": (p_value, lambda e: e),
    "text": (text, lambda e: e),
}
