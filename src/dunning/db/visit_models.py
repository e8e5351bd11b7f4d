"""Field visits (外访): the staff and credential registry, visit requests and registrations, field events, safety
alarms, and promises to pay taken in the field. Times are timezone-aware UTC; money is integer fen."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import Base, BigId
from dunning.db.types import UtcDateTime


class FieldStaff(Base):
    """A person who may go on visits: their credential (执业证/工作证) and last conduct training."""

    __tablename__ = "field_staff"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    agency: Mapped[str | None] = mapped_column(String(128), nullable=True)
    credential_no: Mapped[str] = mapped_column(String(64))
    credential_valid_until: Mapped[date] = mapped_column(Date)
    trained_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Visit(Base):
    """One visit from request to check-out. ``state``: requested → approved | rejected → in_field → closed."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    agency: Mapped[str | None] = mapped_column(String(128), nullable=True)
    address: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    purpose: Mapped[str] = mapped_column(Text)
    risk_notes: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime())
    members: Mapped[list[Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    reg_no: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_checkin_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    next_checkin_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    recording_confirmed: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # the campaign of the visit-notice SMS (issue 21): set when the notice is planned; a visit is notified once
    notice_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True, nullable=True)


class VisitEvent(Base):
    """Everything that happens on a visit, with who, when and where (the field audit trail)."""

    __tablename__ = "visit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class VisitAlarm(Base):
    """A safety alarm (SOS or a missed check-in). ``level``: 1 supervisor, 2 second supervisor, 3 emergency
    contacts; it climbs while nobody acknowledges it."""

    __tablename__ = "visit_alarms"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    raised_by: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    notified: Mapped[list[Any]] = mapped_column(JSON)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PromiseToPay(Base):
    """A borrower's promise to pay by a date, taken in the field; planning sends nothing before that date."""

    __tablename__ = "promises_to_pay"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[str] = mapped_column(String(64), index=True)
    promised_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())



class VisitAlert(Base):
    """One alert SMS of an escalated alarm (level 2: the second supervisor, level 3: an emergency contact): an
    outbox row stored with the escalation, then sent with retries until ``deadline_at``. ``state``: pending →
    sending → sent | failed, or cancelled when the alarm is acknowledged first. One row per alarm, level and phone
    (a unique key, so a repeated tick never queues it twice)."""

    __tablename__ = "visit_alerts"
    __table_args__ = (UniqueConstraint("alarm_id", "level", "phone"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("visit_alarms.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime())
    provider_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
