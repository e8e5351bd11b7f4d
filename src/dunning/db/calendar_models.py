"""Imported holiday calendar years (``dunning calendar import``): each row is one year's validated calendar file,
which wins over the calendar shipped for that year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import Base, LongText, Str64


class CalendarYear(Base):
    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    content: Mapped[LongText]  # the canonical calendar file text (strategy.holidays)
    sha256: Mapped[Str64]
    source_name: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime]
    imported_by: Mapped[Str64]
