"""Borrower cases: a dispute, wrong-person report, payment claim, hardship request, complaint or call-back request
that became work with an owner and a deadline, and its history of notes.

Kept apart from :mod:`dunning.db.models` (one module per capability); ``models`` imports this module at its end so
that ``Base.metadata`` is complete wherever the models are loaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import LongText, Row, Str16, Str20, Str32, Str64, Str128


class Case(Row):
    """One case. ``state`` follows :data:`dunning.domain.cases.CASE_TRANSITIONS`; ``due_at`` and ``ack_due_at``
    come from the case policy when it opens. ``subject_type``/``subject_id`` point at what the case is about
    beyond messages (e.g. a field visit), without a foreign key to a capability this one does not know."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state_due", "state", "due_at"),
        Index("ix_cases_phone_state", "phone", "state"),
        Index("ix_cases_type_state", "type", "state"),
    )
    type: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(24))
    source: Mapped[Str16]  # reply | self_service | hotline | manual
    phone: Mapped[Str20]
    loan_ids: Mapped[list[Any]] = mapped_column(default=list)
    agency: Mapped[Str128 | None]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"))
    subject_type: Mapped[Str32 | None]
    subject_id: Mapped[Str64 | None]
    team: Mapped[Str32]
    owner: Mapped[Str64 | None]
    summary: Mapped[LongText] = mapped_column(default="")
    opened_by: Mapped[Str64]
    opened_at: Mapped[datetime]
    ack_due_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    due_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[Str32 | None]
    outcome_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class CaseNote(Row):
    """The case's history: notes written by people and every change (state, owner, outcome) with who and when."""

    __tablename__ = "case_notes"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    author: Mapped[Str64]
    kind: Mapped[Str16]  # note | opened | state | assign | outcome
    text: Mapped[LongText] = mapped_column(default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
