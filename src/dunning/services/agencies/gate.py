"""Who an agency may contact: only accounts allocated to it whose entrustment notice has been delivered.

The notice (template ``agency_notice``) goes through the normal pipeline as a campaign linked to the allocation
period (``agency_campaigns.kind = 'notice'``). A notice counts for a (loan, agency) pair once a real (non-test)
message of such a campaign reached ``delivered`` while the loan was allocated to that agency; a sticky account
keeps its delivered notice into the next period. Planning an agency's campaign marks every other allocated
account ``agency_notice_pending``, and planning suppresses those (reason ``agency_notice``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dunning.db.bulk import read_frame

NOTICED_SQL = (
    "SELECT DISTINCT al.loan_id, al.agency_id FROM messages m "
    "JOIN agency_campaigns ac ON ac.campaign_id = m.campaign_id AND ac.kind = 'notice' "
    "JOIN allocations al ON al.period_id = ac.period_id AND al.loan_id = m.loan_id "
    "WHERE m.state = 'delivered' AND m.is_test = :no")


def noticed(s: Any) -> pl.DataFrame:
    """(loan_id, agency_id) pairs whose entrustment notice was delivered."""
    return read_frame(s, NOTICED_SQL, {"no": False}, schema={"loan_id": pl.Utf8, "agency_id": pl.Int64})


def allocated(s: Any, period_id: int, agency_id: int | None = None) -> pl.DataFrame:
    """The period's live allocations (not recalled), with whether the agency's notice was delivered."""
    sql = ("SELECT loan_id, agency_id, phone, bucket, amount_due_fen FROM allocations "
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
