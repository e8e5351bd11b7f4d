"""Tables of the security guards: webhook requests already seen (replay refusal), the OS-user → app-user
mapping the CLI authenticates by, and staff lookup counters (hotline rate limits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from dunning.db.models import Base, BigId, Str64


class WebhookSeen(Base):
    """One verified webhook request (its signature digest); a second arrival is a replay. Rows older than the
    replay window are pruned: older requests are refused by their timestamp anyway."""

    __tablename__ = "webhook_seen"
    digest: Mapped[Str64] = mapped_column(primary_key=True)
    channel: Mapped[Str64]
    seen_at: Mapped[datetime] = mapped_column(index=True)


class CliIdentity(Base):
    """An OS account allowed to act on the CLI as one app user, set by an administrator."""

    __tablename__ = "cli_identities"
    os_user: Mapped[Str64] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    created_by: Mapped[Str64]
    created_at: Mapped[datetime]
