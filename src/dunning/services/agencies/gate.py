"""Who an agency may contact: only accounts allocated to it whose entrustment notice has been delivered.

The notice (template ``agency_notice``) goes through the normal pipeline as a campaign linked to the allocation
period (``agency_campaigns.kind = 'notice'``). A notice counts for a (loan, agency) pair once a real (non-test)
message of such a campaign reached ``delivered`` while the loan was allocated to that agency; a sticky account
keeps its delivered notice into the next period. The gate is checked three times:

* at planning: an agency's campaign marks every other allocated account ``agency_notice_pending``, and planning
  suppresses those (reason ``agency_notice``);
* at send time: :func:`suppress_unnoticed` runs before a dispatch run of an agency's campaign and suppresses its
  planned or queued messages to borrowers no longer allocated to the agency with a delivered notice (recalled
  meanwhile, or planned by another path) — the same reason ``agency_notice``;
* at any agency user's contact action (a field visit request): :func:`require_noticed` refuses it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import text, update

from dunning.db.bulk import read_frame
from dunning.db.models import Message
from dunning.domain.agencies import AllocationPeriodState
from dunning.domain.states import MessageState
from dunning.errors import PermissionDenied

REASON = "agency_notice"
CHUNK = 500
WAITING = (MessageState.PLANNED.value, MessageState.QUEUED.value)
NOTICED_SQL = (
    "SELECT DISTINCT al.loan_id, al.agency_id FROM messages m "
    "JOIN agency_campaigns ac ON ac.campaign_id = m.campaign_id AND ac.kind = 'notice' "
    "JOIN allocations al ON al.period_id = ac.period_id AND al.loan_id = m.loan_id "
    "WHERE m.state = :delivered AND m.is_test = :no")


def noticed(s: Any) -> pl.DataFrame:
    """(loan_id, agency_id) pairs whose entrustment notice was delivered."""
    return read_frame(s, NOTICED_SQL, {"delivered": MessageState.DELIVERED.value, "no": False},
                      schema={"loan_id": pl.Utf8, "agency_id": pl.Int64})


def allocated(s: Any, period_id: int, agency_id: int | None = None) -> pl.DataFrame:
    """The period's live allocations (not recalled), with whether the agency's notice was delivered."""
    sql = ("SELECT loan_id, agency_id, phone, bucket, amount_due_fen FROM allocations "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
           "WHERE period_id = :p AND recalled_at IS NULL" + (" AND agency_id = :a" if agency_id is not None else ""))
    rows = read_frame(s, sql, {"p": period_id, "a": agency_id},
                      schema={"loan_id": pl.Utf8, "agency_id": pl.Int64, "phone": pl.Utf8, "bucket": pl.Utf8,
                              "amount_due_fen": pl.Int64})
    done = noticed(s).with_columns(pl.lit(True).alias("notice_delivered"))
    return rows.join(done, on=["loan_id", "agency_id"], how="left").with_columns(
        pl.col("notice_delivered").fill_null(False))


def work_scope(s: Any, period_id: int, agency_id: int) -> pl.DataFrame:
    """The planning scope of an agency's campaign: its allocated accounts, pending where no notice reached them."""
    rows = allocated(s, period_id, agency_id)
    return rows.select("loan_id", (~pl.col("notice_delivered")).alias("agency_notice_pending"))


def suppress_unnoticed(s: Any, campaign_id: int, *, now: datetime) -> int:
    """Send-time re-check for an agency's campaign (``agency_campaigns.kind = 'work'``): its real planned or queued
    messages to a borrower who is not, at this moment, allocated to the agency with a delivered notice become
    ``suppressed`` (reason ``agency_notice``). Returns how many; 0 for any other campaign."""
    link = s.execute(text("SELECT period_id, agency_id FROM agency_campaigns WHERE campaign_id = :c AND kind = 'work'"),
                     {"c": campaign_id}).first()
    if link is None:
        return 0
    allowed = allocated(s, int(link[0]), int(link[1])).filter(pl.col("notice_delivered")).select("loan_id")
    waiting = read_frame(s, "SELECT id, loan_id FROM messages WHERE campaign_id = :c AND is_test = :no "
                            "AND state IN (:planned, :queued)",
                         {"c": campaign_id, "no": False, "planned": MessageState.PLANNED.value,
                          "queued": MessageState.QUEUED.value},
                         schema={"id": pl.Int64, "loan_id": pl.Utf8})
    ids = waiting.join(allowed, on="loan_id", how="anti")["id"].to_list()
    for i in range(0, len(ids), CHUNK):
        s.execute(update(Message).where(Message.id.in_(ids[i:i + CHUNK]), Message.state.in_(WAITING))
                  .values(state=MessageState.SUPPRESSED.value, reason=REASON, final_at=now))
    return len(ids)


def require_noticed(s: Any, loan_id: str, agency: str) -> None:
    """Refuse an agency's contact with a borrower (e.g. a field visit) before the entrustment notice for that loan
    and agency was delivered, or when the loan is not (or no longer) allocated to the agency. A team name not in
    the agency registry (an in-house field team) is outside the entrustment rules and passes."""
    if s.execute(text("SELECT 1 FROM agencies WHERE name = :a"), {"a": agency}).first() is None:
        return
    row = s.execute(text(
        "SELECT 1 FROM allocations al JOIN agencies ag ON ag.id = al.agency_id "
        "JOIN allocation_periods ap ON ap.id = al.period_id AND ap.state = :active "
        "JOIN agency_campaigns ac ON ac.kind = 'notice' "
        "JOIN allocation_periods np ON np.id = ac.period_id "
        "JOIN allocations nal ON nal.period_id = np.id AND nal.loan_id = al.loan_id AND nal.agency_id = al.agency_id "
        "JOIN messages m ON m.campaign_id = ac.campaign_id AND m.loan_id = al.loan_id "
        "WHERE al.loan_id = :l AND ag.name = :a AND al.recalled_at IS NULL AND m.state = :delivered "
        "AND m.is_test = :no LIMIT 1"), {"l": loan_id, "a": agency, "no": False,
                                         "active": AllocationPeriodState.ACTIVE.value,
                                         "delivered": MessageState.DELIVERED.value}).first()
    if row is None:
        raise PermissionDenied("委外告知短信尚未送达该借款人，机构不得联系（外访、短信均不可）",
                               "the entrustment notice has not reached this borrower: the agency may not contact them")
