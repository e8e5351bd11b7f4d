"""Who sees what: phone numbers masked unless the viewer's role may see them; agency users see only their accounts.

Every read model (and every export) goes through these helpers, so a list and its download mask alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import select

from dunning.db.models import Account, Message
from dunning.domain.masking import mask_phone, mask_phone_expr
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import FIELD_ROLES, Role

FULL_PHONE_ROLES = frozenset({Role.ADMIN, Role.COMPLIANCE})
REJECT_DETAIL_ROLES = frozenset({Role.ADMIN, Role.COMPLIANCE, Role.OPERATOR})
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_NO_AGENCY = "\x00none"  # an agency user without an agency sees nothing


def may_see_phone(viewer: Principal) -> bool:
    return viewer.role in FULL_PHONE_ROLES


def show_phone(viewer: Principal, phone: str | None) -> str:
    return (phone or "") if may_see_phone(viewer) else mask_phone(phone)


def mask_text_phones(text: str) -> str:
    """Mask every mobile number inside free text (raw reject rows, replies)."""
    return _MOBILE.sub(lambda m: mask_phone(re.sub(r"[- ]", "", m.group(0)).removeprefix("+86").removeprefix("86")),
                       text)


def show_text(viewer: Principal, text: str | None) -> str:
    return (text or "") if may_see_phone(viewer) else mask_text_phones(text or "")


def phone_column(viewer: Principal, frame: pl.DataFrame, col: str) -> pl.DataFrame:
    """An export's phone column, masked (vectorised) unless the viewer may see full numbers."""
    if may_see_phone(viewer) or col not in frame.columns or frame.is_empty():
        return frame
    return frame.with_columns(mask_phone_expr(col).alias(col))


def agency_of(viewer: Principal) -> str | None:
    if viewer.role is Role.AGENCY:
        return viewer.agency or _NO_AGENCY
    if viewer.role in FIELD_ROLES and viewer.agency:  # field staff of an agency see only its accounts
        return viewer.agency
    return None


def scoped_messages(agency: str | None) -> Any:
    q = select(Message)
    if agency is not None:
        q = q.join(Account, Account.id == Message.account_id).where(Account.agency == agency)
    return q


def utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
