"""SQLAlchemy 2.0 models. The database is the source of truth for imports, campaigns and messages.

Portable SQL only: nothing here assumes SQLite. Money is integer fen; times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dunning.db.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    agency: Mapped[str | None] = mapped_column(String(128), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Import(Base):
    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="portfolio")  # portfolio | payments
    as_of: Mapped[date] = mapped_column(Date)
    files: Mapped[list[Any]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON)
    reject_report: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    content_sha: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Account(Base):
    __tablename__ = "accounts"
    # (import_id, loan_id) is also the index for a snapshot's accounts. No phone index: contact history and
    # searches read ``messages``; each extra index costs seconds on a million-row import (docs/adr/0002).
    __table_args__ = (UniqueConstraint("import_id", "loan_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    loan_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str] = mapped_column(String(20))
    amount_due_fen: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    penalty_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    overdue_count: Mapped[int] = mapped_column(Integer, default=0)
    product: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payday: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    region: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    agency: Mapped[str | None] = mapped_column(String(128), nullable=True)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    source_file: Mapped[str] = mapped_column(String(512))
    source_row: Mapped[int] = mapped_column(BigInteger)


class RejectRow(Base):
    __tablename__ = "reject_rows"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"), index=True)
    source_file: Mapped[str] = mapped_column(String(512))
    source_row: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    message_zh: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class TemplateRecord(Base):
    __tablename__ = "templates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    tone: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32), default="")
    profile: Mapped[str] = mapped_column(String(8), default="CN")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    channel_codes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Strategy(Base):
    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # the YAML as given
    sha: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("strategy_id", "as_of", "import_id", "batch"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    # "" for the day's campaign of a strategy; another value names one more campaign of the same strategy, day
    # and import (a visit notice: ``visits:<ids>``), so planning the same batch again still finds it
    batch: Mapped[str] = mapped_column(String(64), default="", server_default="")
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    as_of: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(24), index=True)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    channel: Mapped[str] = mapped_column(String(64))
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    pilot_approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pilot_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plan_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Message(Base):
    """One SMS to one phone for one account. ``idempotency_key`` makes "at most once" a unique key."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_campaign_state", "campaign_id", "state", "id"),
        Index("ix_messages_phone", "phone"),  # contact budget, message search, replies (see migration 0007)
        Index("ix_messages_loan", "loan_id"),
        Index("ix_messages_submitting_at", "submitting_at"),  # planning counts each phone's recent contacts
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    loan_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    segment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    step: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(32), nullable=True)
    template_version_id: Mapped[int | None] = mapped_column(ForeignKey("template_versions.id"), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The template's variable values as rendered into ``text`` (JSON object, name → string, in the order the
    # variables first appear in the template): what template-based providers (Aliyun, Tencent) are sent.
    params: Mapped[str | None] = mapped_column(Text, nullable=True)
    parts: Mapped[int] = mapped_column(SmallInteger, default=1)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)  # suppression / failure reason code
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_pilot: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The recipient's send window on the planning day (UTC): not before ``send_after``, never at or after
    # ``send_before``; ``scheduled_at`` lies between them.
    send_after: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    send_before: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # A sample to an internal test number (pilot only; synthetic data; excluded from outcome statistics).
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    verify_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    submitting_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    final_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class MessagePart(Base):
    """Provider ids of every part of a (possibly concatenated) message, with each part's DLR state."""

    __tablename__ = "message_parts"
    __table_args__ = (UniqueConstraint("channel", "provider_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(128))
    part_no: Mapped[int] = mapped_column(SmallInteger, default=1)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)


class DeliveryReportRow(Base):
    """Every DLR as received, matched or not (reports for unknown ids are kept, never dropped)."""

    __tablename__ = "delivery_reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    raw: Mapped[str] = mapped_column(Text, default="")


class Reply(Base):
    __tablename__ = "replies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    classification: Mapped[str] = mapped_column(String(16))  # opt_out | dispute | promise | other
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PhoneFlag(Base):
    """A standing reason not to message a phone: opted_out, dispute, do_not_contact."""

    __tablename__ = "phone_flags"
    __table_args__ = (UniqueConstraint("phone", "kind"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("loan_id", "paid_at", "amount_fen"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"), nullable=True)
    loan_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # How the action came: cli | web | api | worker; for the CLI, the OS user and host that ran it.
    via: Mapped[str] = mapped_column(String(8), default="worker", server_default="worker")
    os_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    host: Mapped[str | None] = mapped_column(String(128), nullable=True)


class VerificationAttempt(Base):
    """Every verification attempt (phone masked; a keyed hash lets rate limits count per phone)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (Index("ix_verif_ip_at", "ip", "at"), Index("ix_verif_phone_at", "phone_hash", "at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    ip: Mapped[str] = mapped_column(String(64))
    phone_hash: Mapped[str] = mapped_column(String(64))
    phone_masked: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(16))  # genuine | not_found | expired | rate_limited | invalid
    channel: Mapped[str] = mapped_column(String(16), default="public")  # public | hotline


# Capabilities keep their tables in modules of their own; importing them here keeps the metadata complete for
# create_all, Alembic and the schema test.
from dunning.db import case_models as _case_models  # noqa: E402,F401
from dunning.db import security_models as _security_models  # noqa: E402,F401
from dunning.db import visit_models as _visit_models  # noqa: E402,F401
