"""Borrower cases: a dispute, wrong-person report, payment claim, hardship request, complaint or call-back request
that became work with an owner and a deadline, and its history of notes.

Kept apart from :mod:`dunning.db.models` (one module per capability); ``models`` imports this module at its end so
that ``Base.metadata`` is complete wherever the models are loaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import Base, BigId
from dunning.db.types import UtcDateTime


class Case(Base):
    """One case. ``state`` follows :data:`dunning.domain.cases.CASE_TRANSITIONS`; ``due_at`` and ``ack_due_at``
    come from the case policy when it opens. ``subject_type``/``subject_id`` point at what the case is about
    beyond messages (e.g. a field visit), without a foreign key to a capability this one does not know."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state_due", "state", "due_at"),
        Index("ix_cases_phone_state", "phone", "state"),
        Index("ix_cases_type_state", "type", "state"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))  # reply | self_service | hotline | manual
    phone: Mapped[str] = mapped_column(String(20))
    loan_ids: Mapped[list[Any]] = mapped_column(default=list)
    agency: Mapped[str | None] = mapped_column(String(128), nullable=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"), nullable=True)
    subject_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    team: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ack_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseNote(Base):
    """The case's history: notes written by people and every change (state, owner, outcome) with who and when."""

    __tablename__ = "case_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    author: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # note | opened | state | assign | outcome
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
