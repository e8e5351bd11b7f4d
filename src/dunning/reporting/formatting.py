"""How the report shows a value: one formatter per kind of figure ("—" for a missing one), and :data:`KINDS`, the
column kinds of a report table (how a value is shown on a page and stored in a spreadsheet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

__all__ = ["KINDS", "count", "days", "p_value", "pct", "pp", "signed_pp", "text", "yuan"]


def count(v: Any) -> str:
    """A number of accounts, messages…: ``12,345``."""
    return "—" if v is None else f"{int(v):,}"


def pct(v: Any) -> str:
    """A share as a percentage: ``12.3%``."""
    return "—" if v is None else f"{v:.1%}"


def signed_pp(v: Any) -> str:
    """A difference of two shares in percentage points, with its sign and unit: ``+1.2pp``."""
    return "—" if v is None else f"{v * 100:+.1f}pp"


def pp(v: Any) -> str:
    """A value already in percentage points (a spreadsheet cell), with its sign: ``+1.2``."""
    return "—" if v is None else f"{v:+.1f}"


def yuan(v: Any) -> str:
    """An amount in yuan (a spreadsheet cell): ``¥1,234.50``."""
    return "—" if v is None else f"¥{v:,.2f}"


def days(v: Any) -> str:
    return "—" if v is None else f"{v:.1f}"


def p_value(v: Any) -> str:
    return "—" if v is None else ("<0.001" if v < 0.001 else f"{v:.3f}")


def text(v: Any) -> str:
    return "—" if v is None else str(v)


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
