"""Reminders while a case is open: one mechanism, the phone's standing ``dispute`` flag.

The planner suppresses a flagged phone (reason ``dispute``) and the dispatcher re-checks the flags right before
each batch, so raising the flag when a stopping case opens (dispute, wrong person, payment check, complaint) stops
the next campaign's message and anything already queued. Closing the last stopping case of a phone clears the flag;
an outcome that says the phone is not the borrower's leaves it on the do-not-contact list instead.
Open hardship cases are read by the planner (:func:`hardship_phones`) and handled as the strategy says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dunning.db.bulk import Sql, bulk_insert, key_in, read_frame
from dunning.db.case_models import Case
from dunning.db.models import PhoneFlag
from dunning.domain.cases import OPEN_STATES, CaseType

STOP_FLAG = "dispute"
_CHUNK = 1000
_OPEN = tuple(s.value for s in OPEN_STATES)


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield list(values[i:i + _CHUNK])


def raise_flags(s: Session, phones: Iterable[str], detail: str, now: datetime, kind: str = STOP_FLAG) -> int:
    """Raise ``kind`` on every phone (again, if it was cleared). Set-based; returns how many were raised."""
    wanted = sorted(set(phones))
    if not wanted:
        return 0
    standing: set[str] = set()
    cleared: list[str] = []
    for chunk in _chunks(wanted):
        for phone, cleared_at in s.execute(select(PhoneFlag.phone, PhoneFlag.cleared_at).where(
                PhoneFlag.kind == kind, key_in(s, PhoneFlag.phone, chunk))).all():
            (cleared.append(phone) if cleared_at is not None else standing.add(phone))
    new = [p for p in wanted if p not in standing and p not in cleared]
    bulk_insert(s, PhoneFlag.__table__, pl.DataFrame({"phone": new}, schema={"phone": pl.Utf8}).with_columns(  # type: ignore[arg-type]
        pl.lit(kind).alias("kind"), pl.lit(detail).alias("detail"),
        pl.lit(Sql(s.connection().engine).ts(now)).alias("created_at")))
    for chunk in _chunks(cleared):
        s.execute(update(PhoneFlag).where(PhoneFlag.kind == kind, key_in(s, PhoneFlag.phone, chunk))
                  .values(cleared_at=None, detail=detail))
    return len(new) + len(cleared)


def release_flags(s: Session, phones: Iterable[str], stopping_types: Sequence[str], now: datetime) -> list[str]:
    """Clear the ``dispute`` flag of each phone that has no open stopping case left; returns those phones."""
    wanted = sorted(set(phones))
    still: set[str] = set()
    for chunk in _chunks(wanted):
        still.update(s.scalars(select(Case.phone).where(key_in(s, Case.phone, chunk), Case.state.in_(_OPEN),
                                                        Case.type.in_(stopping_types)).distinct()))
    free = [p for p in wanted if p not in still]
    for chunk in _chunks(free):
        s.execute(update(PhoneFlag).where(PhoneFlag.kind == STOP_FLAG, key_in(s, PhoneFlag.phone, chunk),
                                          PhoneFlag.cleared_at.is_(None)).values(cleared_at=now))
    return free


def hardship_phones(s: Session) -> pl.DataFrame:
    """Phones with an open hardship case (one column ``phone``), for the planner."""
    states = "','".join(_OPEN)
    return read_frame(s, f"SELECT DISTINCT phone FROM cases WHERE type = '{CaseType.HARDSHIP.value}' "  # nosec B608  # a constant of code, values bound
                         f"AND state IN ('{states}')", schema={"phone": pl.Utf8})
