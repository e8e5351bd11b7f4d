"""What outcomes are computed from: the input frames of one campaign and their schemas (times are
``Datetime("us", "UTC")``). ``dunning.services.campaigns.outcomes`` reads them from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from dunning.db.frames import UTC_US

MESSAGES_SCHEMA: dict[str, pl.DataType] = {
    "message_id": pl.Int64(), "loan_id": pl.String(), "phone": pl.String(),
    "segment": pl.String(), "step": pl.String(), "variant": pl.String(), "template_version_id": pl.Int64(),
    "template": pl.String(), "state": pl.String(), "reason": pl.String(), "error_code": pl.String(),
    "channel": pl.String(), "sent_at": UTC_US, "amount_due_fen": pl.Int64(), "bucket": pl.String(),
}
TOUCHES_SCHEMA: dict[str, pl.DataType] = {"message_id": pl.Int64(), "loan_id": pl.String(), "sent_at": UTC_US}
PAYMENTS_SCHEMA: dict[str, pl.DataType] = {"loan_id": pl.String(), "amount_fen": pl.Int64(), "paid_at": UTC_US}
REPLIES_SCHEMA: dict[str, pl.DataType] = {"message_id": pl.Int64(), "classification": pl.String()}


@dataclass(frozen=True)
class OutcomeFrames:
    """What outcomes are computed from, for one campaign.

    ``messages``: every message row of the campaign to a borrower (all states, hold-out included; internal test
    numbers left out), columns :data:`MESSAGES_SCHEMA`; ``template`` is a display label of the template version
    ("M1 v2").
    ``touches``: delivered messages of *other* campaigns to the campaign's loans (:data:`TOUCHES_SCHEMA`), so
    that a later campaign's message takes the credit for a payment it came closer to (this campaign's own
    deliveries come from ``messages``).
    ``payments``: payments to the campaign's loans (:data:`PAYMENTS_SCHEMA`).
    ``replies``: classified replies linked to the campaign's messages (:data:`REPLIES_SCHEMA`).
    ``observed_at``: when the data was read; a window that has not closed by then is flagged, not hidden.
    ``planned_start``: the instant every arm is measured from — the campaign's planned start, the earliest
    ``send_after`` (else ``scheduled_at``) of its messages; when unknown, the earliest ``sent_at`` stands in.
    """

    messages: pl.DataFrame
    touches: pl.DataFrame
    payments: pl.DataFrame
    replies: pl.DataFrame
    observed_at: datetime
    planned_start: datetime | None = None

    def anchor(self) -> datetime | None:
        """``planned_start``, else the earliest ``sent_at`` of the campaign's messages (None without either)."""
        if self.planned_start is not None:
            return self.planned_start
        v = self.messages.select(pl.col("sent_at").min()).item() if self.messages.height else None
        return v if isinstance(v, datetime) else None

    def all_touches(self) -> pl.DataFrame:
        """Delivered messages of this campaign and of others to its loans: what attribution chooses from."""
        own = self.messages.filter(pl.col("state") == "delivered").select(list(TOUCHES_SCHEMA))
        return pl.concat([own, self.touches.select(list(TOUCHES_SCHEMA))])


def empty_frames(observed_at: datetime) -> OutcomeFrames:
    """Frames with the right schemas and no rows (a campaign with no messages yet)."""
    return OutcomeFrames(
        messages=pl.DataFrame(schema=MESSAGES_SCHEMA), touches=pl.DataFrame(schema=TOUCHES_SCHEMA),
        payments=pl.DataFrame(schema=PAYMENTS_SCHEMA), replies=pl.DataFrame(schema=REPLIES_SCHEMA),
        observed_at=observed_at,
    )

