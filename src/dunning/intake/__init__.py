"""Portfolio intake: read → map columns → normalise and validate → dedupe → reject report.

Vectorised with Polars; nothing is dropped silently: ``len(accepted) + len(rejected) == rows``, always.

Entry points
    :func:`read_portfolio` (one snapshot of one or more CSV/XLSX/Parquet files → :class:`IntakeResult`),
    :func:`write_reject_report` (``stem.csv`` with BOM + ``stem.xlsx``), :data:`REJECT_CODES` in precedence
    order with :data:`REJECT_MESSAGES_ZH` / :data:`REJECT_MESSAGES_EN`.

Value parsers, reusable by other imports (payments) with the same tolerance. Any string in, a value or
null out, never an exception:

    ``phone_expr(col, allow_international=False)``   Utf8 E.164 of SMS-capable numbers, else null
    ``phone_check_expr(col, allow_international=False)``  Struct{phone: E.164 of any real number,
                                                      reject: null | missing_field | invalid_phone | not_mobile}
    ``amount_fen_expr(col)``  Int64 fen, sign kept (``amount_reject`` turns it into invalid_amount/nothing_due)
    ``date_expr(col)``        Date (ISO, 2026/9/30, 2026年9月30日, 20260930, 2026.09.30, with or without a time)
    ``rate_expr(col)``        Float64 daily fraction (0.05% == 0.0005 == 0.5‰ == 万分之5)
    ``int_expr(col)``         Int64 small counts (3, 3次, 15日)

and their Series forms ``parse_phones``, ``parse_amounts``, ``parse_dates``, ``parse_rates``, ``parse_ints``,
``parse_paydays``, ``excel_serial_to_iso``; ``read_exclude`` for do-not-contact lists.
"""

from __future__ import annotations

from dunning.intake.codes import REJECT_CODES, REJECT_MESSAGES_EN, REJECT_MESSAGES_ZH
from dunning.intake.columns import ALIASES, CANONICAL, OPTIONAL, REQUIRED, MappingSpec, load_mapping
from dunning.intake.exprs import amount_fen_expr, date_expr, int_expr, phone_check_expr, phone_expr, rate_expr
from dunning.intake.parsers import (
    amount_reject,
    excel_serial_to_iso,
    parse_amounts,
    parse_dates,
    parse_ints,
    parse_paydays,
    parse_phones,
    parse_rates,
)
from dunning.intake.pipeline import ACCEPTED_SCHEMA, REJECTED_SCHEMA, IntakeResult, read_portfolio
from dunning.intake.readers import read_exclude
from dunning.intake.report import report_table, write_reject_report

__all__ = [
    "ACCEPTED_SCHEMA",
    "ALIASES",
    "CANONICAL",
    "OPTIONAL",
    "REJECTED_SCHEMA",
    "REJECT_CODES",
    "REJECT_MESSAGES_EN",
    "REJECT_MESSAGES_ZH",
    "REQUIRED",
    "IntakeResult",
    "MappingSpec",
    "amount_fen_expr",
    "amount_reject",
    "date_expr",
    "excel_serial_to_iso",
    "int_expr",
    "load_mapping",
    "parse_amounts",
    "parse_dates",
    "parse_ints",
    "parse_paydays",
    "parse_phones",
    "parse_rates",
    "phone_check_expr",
    "phone_expr",
    "rate_expr",
    "read_exclude",
    "read_portfolio",
    "report_table",
    "write_reject_report",
]
