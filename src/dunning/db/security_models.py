"""Tables of the security guards: webhook requests already seen (replay refusal), the OS-user → app-user
mapping the CLI authenticates by, and staff lookup counters (hotline rate limits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import Base, BigId
from dunning.db.types import UtcDateTime


class WebhookSeen(Base):
    """One verified webhook request (its signature digest); a second arrival is a replay. Rows older than the
    replay window are pruned: older requests are refused by their timestamp anyway."""

    __tablename__ = "webhook_seen"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class CliIdentity(Base):
    """An OS account allowed to act on the CLI as one app user, set by an administrator."""

    __tablename__ = "cli_identities"
    os_user: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StaffLookup(Base):
    """One staff lookup of a sensitive answer (the hotline check), counted per user and per address."""

    __tablename__ = "staff_lookups"
    __table_args__ = (Index("ix_staff_lookups_user_at", "username", "at"), Index("ix_staff_lookups_ip_at", "ip", "at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
