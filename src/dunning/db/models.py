"""SQLAlchemy 2.0 models. The database is the source of truth for imports, campaigns and messages.

Portable SQL only: nothing here assumes SQLite. Money is integer fen; times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from dunning.db.types import UtcDateTime
from dunning.domain.states import MessageState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Room left on each page of ``messages`` on PostgreSQL (per cent filled by inserts): a message's later versions
# (submitted, delivered) go on its own page as HOT updates while there is room (docs/scale.md).
MESSAGES_FILLFACTOR = 70

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


# Strings by their longest length: ``Mapped[Str64]`` is a ``String(64)`` column (``Mapped[Str64 | None]`` nullable).
Str16 = Annotated[str, 16]
Str20 = Annotated[str, 20]
Str32 = Annotated[str, 32]
Str64 = Annotated[str, 64]
Str128 = Annotated[str, 128]
LongText = Annotated[str, "text"]  # a ``Text`` column: no length limit


class Base(DeclarativeBase):
    """Column types follow the annotation: ``Mapped[datetime]`` is :class:`UtcDateTime`, ``Mapped[StrN]`` is
    ``String(N)``, ``Mapped[LongText]`` is ``Text``, ``float`` is ``Float``, JSON for ``list[Any]`` and
    ``dict[str, Any]``; ``int``, ``bool`` and ``date`` take SQLAlchemy's defaults (Integer, Boolean, Date). A
    ``| None`` annotation makes the column nullable."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime(), float: Float(),
                           Str16: String(16), Str20: String(20), Str32: String(32), Str64: String(64),
                           Str128: String(128), LongText: Text()}


class Row(Base):
    """A table whose rows are numbered by ``id``, a big-integer primary key (an integer one on SQLite)."""

    __abstract__ = True
    id: Mapped[int] = mapped_column(BigId, primary_key=True, sort_order=-1)  # first, as the tables were created


class FromFile:
    """Where an imported row came from: the file and its row number (the last two columns of the table)."""

    source_file: Mapped[str] = mapped_column(String(512), sort_order=1)
    source_row: Mapped[int] = mapped_column(BigInteger, sort_order=1)


class Stamped:
    """Who created the row and when: the last two columns of a table that keeps them."""

    created_by: Mapped[Str64] = mapped_column(sort_order=1)
    created_at: Mapped[datetime] = mapped_column(sort_order=1)


class User(Row):
    __tablename__ = "users"
    username: Mapped[Str64] = mapped_column(unique=True)
    display_name: Mapped[Str128] = mapped_column(default="")
    role: Mapped[Str32]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    agency: Mapped[Str128 | None]
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ApiToken(Row):
    __tablename__ = "api_tokens"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[Str128] = mapped_column(unique=True)
    label: Mapped[Str128] = mapped_column(default="")
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


class Import(Stamped, Row):
    __tablename__ = "imports"
    kind: Mapped[Str16] = mapped_column(default="portfolio")  # portfolio | payments
    as_of: Mapped[date]
    files: Mapped[list[Any]]
    rows: Mapped[int]
    accepted: Mapped[int]
    rejected: Mapped[int]
    reasons: Mapped[dict[str, Any]]
    reject_report: Mapped[str | None] = mapped_column(String(1024))
    content_sha: Mapped[Str64] = mapped_column(index=True)


class Account(FromFile, Row):
    __tablename__ = "accounts"
    # (import_id, loan_id) is also the index for a snapshot's accounts. No phone index: contact history and
    # searches read ``messages``; each extra index costs seconds on a million-row import (docs/adr/0002).
    __table_args__ = (UniqueConstraint("import_id", "loan_id"),)
    # On PostgreSQL this key, three of ``messages`` and the message of parts and receipts are checked per insert
    # statement (db/references.py).
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    loan_id: Mapped[Str64]
    name: Mapped[Str64 | None]
    phone: Mapped[Str20]
    amount_due_fen: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date]
    penalty_rate: Mapped[float | None]
    overdue_count: Mapped[int] = mapped_column(default=0)
    product: Mapped[Str64 | None]
    payday: Mapped[int | None] = mapped_column(SmallInteger)
    region: Mapped[Str64 | None]
    dpd: Mapped[int]
    bucket: Mapped[str] = mapped_column(String(8))
    agency: Mapped[Str128 | None]
    address: Mapped[LongText | None]
    lat: Mapped[float | None]
    lon: Mapped[float | None]


class RejectRow(FromFile, Row):
    __tablename__ = "reject_rows"
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"), index=True)
    reason: Mapped[Str32]
    message_zh: Mapped[LongText]
    raw: Mapped[LongText]


class TemplateRecord(Row):
    __tablename__ = "templates"
    code: Mapped[Str64] = mapped_column(unique=True)
    name: Mapped[Str128] = mapped_column(default="")
    tone: Mapped[Str16]
    stage: Mapped[Str32] = mapped_column(default="")
    profile: Mapped[str] = mapped_column(String(8), default="CN")
    created_at: Mapped[datetime]


class TemplateVersion(Row):
    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id"), index=True)
    version: Mapped[int]
    reviewer: Mapped[Str64 | None]
    status: Mapped[Str16]
    text: Mapped[LongText]
    variables: Mapped[dict[str, Any]]
    author: Mapped[Str64]
    approved_at: Mapped[datetime | None]
    channel_codes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class Strategy(Stamped, Row):
    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("name", "version"),)
    name: Mapped[Str128]
    version: Mapped[int]
    body: Mapped[LongText]  # the YAML as given
    sha: Mapped[Str64]


class Campaign(Row):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("strategy_id", "as_of", "import_id", "batch"),)
    name: Mapped[str] = mapped_column(String(256))
    # "" for the day's campaign of a strategy; another value names one more campaign of the same strategy, day
    # and import (a visit notice: ``visits:<ids>``), so planning the same batch again still finds it
    batch: Mapped[Str64] = mapped_column(default="", server_default="")
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    as_of: Mapped[date]
    state: Mapped[str] = mapped_column(String(24), index=True)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    channel: Mapped[Str64]
    pause_reason: Mapped[LongText | None]
    created_by: Mapped[Str64]
    pilot_approved_by: Mapped[Str64 | None]
    pilot_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    plan_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Message(Row):
    """One SMS to one phone for one account. ``idempotency_key`` makes "at most once" a unique key."""

    __tablename__ = "messages"
    __table_args__ = (
        # No index names ``state`` (migration 0022): the dispatch's changes of state after the claim (submitted,
        # then the receipt's final state) touch no indexed column, so on PostgreSQL they are HOT updates, which
        # write no index entry, into the room ``fillfactor`` leaves on each page. Queued rows are found through
        # ``queued``, which only the moves into and out of ``queued`` change (docs/scale.md, ADR 0020).
        Index("ix_messages_campaign", "campaign_id", "id"),
        Index("ix_messages_queue", "campaign_id", "id", postgresql_where=text("queued"), sqlite_where=text("queued")),
        Index("ix_messages_phone", "phone"),  # contact budget, message search, replies (see migration 0007)
        Index("ix_messages_loan", "loan_id"),
        Index("ix_messages_submitting_at", "submitting_at"),  # planning counts each phone's recent contacts
        {"postgresql_with": {"fillfactor": MESSAGES_FILLFACTOR}},
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    loan_id: Mapped[Str64]
    phone: Mapped[Str20]
    segment: Mapped[Str64 | None]
    step: Mapped[Str32]
    variant: Mapped[Str32 | None]
    template_version_id: Mapped[int | None] = mapped_column(ForeignKey("template_versions.id"))
    text: Mapped[LongText | None]
    # The template's variable values as rendered into ``text`` (JSON object, name → string, in the order the
    # variables first appear in the template): what template-based providers (Aliyun, Tencent) are sent.
    params: Mapped[LongText | None]
    parts: Mapped[int] = mapped_column(SmallInteger, default=1)
    state: Mapped[Str16]
    # ``state = 'queued'``, kept by the database (a stored generated column): the claim's index
    # (``ix_messages_queue``) holds the queued rows only and changes with nothing else.
    queued: Mapped[bool] = mapped_column(Computed(f"state = '{MessageState.QUEUED.value}'", persisted=True))
    reason: Mapped[Str32 | None]  # suppression / failure reason code
    detail: Mapped[LongText | None]
    is_pilot: Mapped[bool] = mapped_column(default=False)
    scheduled_at: Mapped[datetime | None]
    # The recipient's send window on the planning day (UTC): not before ``send_after``, never at or after
    # ``send_before``; ``scheduled_at`` lies between them.
    send_after: Mapped[datetime | None]
    send_before: Mapped[datetime | None]
    # A sample to an internal test number (pilot only; synthetic data; excluded from outcome statistics).
    is_test: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    channel: Mapped[Str64 | None]
    provider_id: Mapped[Str128 | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None]
    verify_code_hash: Mapped[Str64 | None] = mapped_column(index=True)
    submitting_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    final_at: Mapped[datetime | None]


class MessagePart(Row):
    """Provider ids of every part of a (possibly concatenated) message. A part's delivery state is what its
    ``delivery_reports`` say (:func:`dunning.channels.dlr.part_state`); it is not stored here (migration 0021)."""

    __tablename__ = "message_parts"
    __table_args__ = (UniqueConstraint("channel", "provider_id"),)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    channel: Mapped[Str64]
    provider_id: Mapped[Str128]
    part_no: Mapped[int] = mapped_column(SmallInteger, default=1)


class DeliveryReportRow(Row):
    """Every DLR as received, matched or not (reports for unknown ids are kept, never dropped)."""

    __tablename__ = "delivery_reports"
    channel: Mapped[Str64]
    provider_id: Mapped[Str128]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    status: Mapped[Str16]
    error_code: Mapped[Str32 | None]
    done_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    raw: Mapped[LongText] = mapped_column(default="")


class Reply(Row):
    __tablename__ = "replies"
    channel: Mapped[Str64]
    phone: Mapped[Str20] = mapped_column(index=True)
    text: Mapped[LongText]
    classification: Mapped[Str16]  # opt_out | dispute | promise | other
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    received_at: Mapped[datetime]


class PhoneFlag(Row):
    """A standing reason not to message a phone: opted_out, dispute, do_not_contact."""

    __tablename__ = "phone_flags"
    __table_args__ = (UniqueConstraint("phone", "kind"),)
    phone: Mapped[Str20]
    kind: Mapped[Str16]
    detail: Mapped[LongText] = mapped_column(default="")
    created_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class Payment(Row):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("loan_id", "paid_at", "amount_fen"),)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"))
    loan_id: Mapped[Str64] = mapped_column(index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime]


class AuditEvent(Row):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[Str64]
    action: Mapped[Str64]
    entity: Mapped[Str32]
    entity_id: Mapped[Str64]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    # How the action came: cli | web | api | worker; for the CLI, the OS user and host that ran it.
    via: Mapped[str] = mapped_column(String(8), default="worker", server_default="worker")
    os_user: Mapped[Str64 | None]
    host: Mapped[Str128 | None]


class VerificationAttempt(Row):
    """Every verification attempt, public or by staff on the hotline (phone masked; a keyed hash lets rate limits
    count per phone, the staff member's username per user)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (Index("ix_verif_ip_at", "ip", "at"), Index("ix_verif_phone_at", "phone_hash", "at"),
                      Index("ix_verif_user_at", "username", "at"))
    at: Mapped[datetime]
    ip: Mapped[Str64]
    phone_hash: Mapped[Str64]
    phone_masked: Mapped[Str20]
    outcome: Mapped[Str16]  # genuine | not_found | expired | rate_limited | invalid
    channel: Mapped[Str16] = mapped_column(default="public")  # public | hotline
    username: Mapped[Str64 | None]  # the staff member of a hotline lookup (counted per user)

    @classmethod
    def count_since(cls, s: Session, since: datetime, *where: ColumnElement[bool]) -> int:
        """Attempts at or after ``since`` that match ``where`` (what the rate limits count)."""
        return s.scalar(select(func.count()).select_from(cls).where(cls.at >= since, *where)) or 0


# Capabilities keep their tables in modules of their own; importing them here keeps the metadata complete for
# create_all, Alembic and the schema test.
from dunning.db import case_models as _case_models  # noqa: E402,F401
from dunning.db import security_models as _security_models  # noqa: E402,F401
from dunning.db import visit_models as _visit_models  # noqa: E402,F401
