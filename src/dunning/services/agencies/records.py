"""One lookup for the capability's records by id (the row, or a NotFoundError naming what was asked for), and
the opening of every command: the time, the transaction, the actor's role checked first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from dunning.db.agency_models import Agency, AllocationPeriod, Bid, Tender, TenderLot
from dunning.db.models import Import
from dunning.errors import NotFoundError
from dunning.services.context import AppContext
from dunning.services.identity.users import Role, require_role

T = TypeVar("T")

LABELS: dict[type, tuple[str, str, str]] = {
    Agency: ("委外机构", "agency", "not_found.agency"),
    AllocationPeriod: ("分案周期", "allocation period", "not_found.period"),
    Tender: ("招标", "tender", "not_found.tender"),
    TenderLot: ("标段", "lot", "not_found.lot"),
    Bid: ("投标", "bid", "not_found.bid"),
    Import: ("导入批次", "import", "not_found.import"),
}


def row(s: Any, model: type[T], key: int) -> T:
    """``model`` #``key`` from session ``s``; a NotFoundError ("分案周期 #3 不存在") when there is none."""
    found = s.get(model, key)
    if found is None:
        zh, en, code = LABELS[model]
        raise NotFoundError(f"{zh} #{key} 不存在", f"{en} #{key} does not exist", code=code)
    return found  # type: ignore[no-any-return]


@contextmanager
def command(ctx: AppContext, actor: str, *roles: Role) -> Iterator[tuple[Any, datetime]]:
    """A command's transaction with ``actor``'s role checked first; yields the session and the time (UTC)."""
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as s:
        require_role(s, actor, *roles)
        yield s, now
