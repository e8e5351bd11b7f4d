"""Field visits (外访): the staff and credential registry, visit requests and registrations, field events, safety
alarms, and promises to pay taken in the field. Times are timezone-aware UTC; money is integer fen."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import LongText, Row, Stamped, Str16, Str20, Str32, Str64, Str128


class FieldStaff(Row):
    """A person who may go on visits: their credential (执业证/工作证) and last conduct training."""

    __tablename__ = "field_staff"
    username: Mapped[Str64] = mapped_column(unique=True)
    display_name: Mapped[Str128]
    credential_no: Mapped[Str64]
    credential_valid_until: Mapped[date]
    trained_on: Mapped[date]
    agency: Mapped[Str128 | None]
    created_at: Mapped[datetime]


class Visit(Row):
    """One visit from request to check-out. ``state``: requested → approved | rejected → in_field → closed."""

    __tablename__ = "visits"
    loan_id: Mapped[Str64] = mapped_column(index=True)
    phone: Mapped[Str20 | None]
    agency: Mapped[Str128 | None]
    address: Mapped[LongText]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    purpose: Mapped[LongText]
    risk_notes: Mapped[LongText] = mapped_column(default="")
    window_start: Mapped[datetime] = mapped_column(index=True)
    window_end: Mapped[datetime]
    members: Mapped[list[Any]]
    state: Mapped[Str16] = mapped_column(index=True)
    requested_by: Mapped[Str64]
    requested_at: Mapped[datetime]
    decided_by: Mapped[Str64 | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[LongText] = mapped_column(default="")
    reg_no: Mapped[Str32 | None] = mapped_column(unique=True)
    started_at: Mapped[datetime | None]
    last_checkin_at: Mapped[datetime | None]
    next_checkin_due: Mapped[datetime | None]
    recording_confirmed: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(24))
    notes: Mapped[LongText] = mapped_column(default="")
    closed_at: Mapped[datetime | None]
    # the campaign of the visit-notice SMS (issue 21): set when the notice is planned; a visit is notified once
    notice_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)


class VisitEvent(Row):
    """Everything that happens on a visit, with who, when and where (the field audit trail)."""

    __tablename__ = "visit_events"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[Str64]
    kind: Mapped[str] = mapped_column(String(24))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    distance_m: Mapped[float | None]
    detail: Mapped[dict[str, Any]]


class VisitAlarm(Row):
    """A safety alarm (SOS or a missed check-in). ``level``: 1 supervisor, 2 second supervisor, 3 emergency
    contacts; it climbs while nobody acknowledges it."""

    __tablename__ = "visit_alarms"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    kind: Mapped[Str16]
    raised_at: Mapped[datetime]
    raised_by: Mapped[Str64]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    level: Mapped[int] = mapped_column(default=1)
    escalated_at: Mapped[datetime | None]
    notified: Mapped[list[Any]]
    acknowledged_by: Mapped[Str64 | None]
    acknowledged_at: Mapped[datetime | None]


class PromiseToPay(Stamped, Row):
    """A borrower's promise to pay by a date, taken in the field; planning sends nothing before that date."""

    __tablename__ = "promises_to_pay"
    loan_id: Mapped[Str64] = mapped_column(index=True)
    promised_on: Mapped[date]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[Str16]
    source_id: Mapped[int | None] = mapped_column(BigInteger)


class VisitAlert(Row):
    """One alert SMS of an escalated alarm (level 2: the second supervisor, level 3: an emergency contact): an
    outbox row stored with the escalation, then sent with retries until ``deadline_at``. ``state``: pending →
    sending → sent | failed, or cancelled when the alarm is acknowledged first. One row per alarm, level and phone
    (a unique key, so a repeated tick never queues it twice)."""

    __tablename__ = "visit_alerts"
    __table_args__ = (UniqueConstraint("alarm_id", "level", "phone"),)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("visit_alarms.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), index=True)
    level: Mapped[int]
    recipient: Mapped[Str128]
    phone: Mapped[Str20]
    text: Mapped[LongText]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    provider_id: Mapped[Str128 | None]
    last_error: Mapped[LongText] = mapped_column(default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
