"""Masking of personal data for logs and screens (PIPL minimum-necessary)."""

from __future__ import annotations

import polars as pl


def mask_phone(phone: str | None) -> str:
    """``+8613812348000`` → ``138****8000``; anything short is masked whole."""
    if not phone:
        return ""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(name: str | None) -> str:
    """``张三丰`` → ``张*``; empty → ``客户`` (the neutral salutation)."""
    if not name:
        return "客户"
    return f"{name[0]}*"


def mask_phone_expr(col: str) -> pl.Expr:
    digits = pl.col(col).str.replace(r"^\+86", "")
    return pl.concat_str([digits.str.slice(0, 3), pl.lit("****"), digits.str.slice(-4)])


def mask_name_expr(col: str) -> pl.Expr:
    name = pl.col(col).fill_null("").str.strip_chars()
    return pl.when(name.str.len_chars() == 0).then(pl.lit("客户")).otherwise(
        pl.concat_str([name.str.slice(0, 1), pl.lit("*")])
    )
