"""Portfolio intake: read → map columns → normalise and validate → dedupe → reject report.

Vectorised with Polars; nothing is dropped silently: ``len(accepted) + len(rejected) == rows``, always.
Per-row ``phonenumbers`` runs only on the rows the vectorised mainland-mobile rule cannot settle.

Public parsers (reused by payments import): :func:`phone_expr`, :func:`amount_fen_expr`, :func:`date_expr`,
:func:`rate_expr`.
"""

from __future__ import annotations

from dunning.intake.core import (
    REJECT_CODES,
    REJECT_MESSAGES_EN,
    REJECT_MESSAGES_ZH,
    IntakeResult,
    read_portfolio,
    write_reject_report,
)
from dunning.intake.parsers import amount_fen_expr, date_expr, phone_expr, rate_expr

__all__ = [
    "REJECT_CODES",
    "REJECT_MESSAGES_EN",
    "REJECT_MESSAGES_ZH",
    "IntakeResult",
    "amount_fen_expr",
    "date_expr",
    "phone_expr",
    "rate_expr",
    "read_portfolio",
    "write_reject_report",
]
