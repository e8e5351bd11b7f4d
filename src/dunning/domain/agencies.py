"""Outsourced agencies as values: the status of an agency, the state of a tender and of an allocation period.

The values are the ones stored in ``agencies.status``, ``tenders.state`` and ``allocation_periods.state``; the
Chinese labels and the agency transitions live with the services that use them (``services/agencies``), keyed by
these members. A recalled account is no state of its own: ``allocations.recalled_at`` is set.
"""

from __future__ import annotations

from enum import StrEnum


class AgencyStatus(StrEnum):
    """candidate → active → suspended ⇄ active; any → terminated (final)."""

    CANDIDATE = "candidate"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class TenderState(StrEnum):
    """open (bidding, then scoring after the deadline) → proposed (an award awaits approval) → awarded."""

    OPEN = "open"
    PROPOSED = "proposed"
    AWARDED = "awarded"


class AllocationPeriodState(StrEnum):
    """active → ended (the lot's next period opened) | recalled (every account taken back)."""

    ACTIVE = "active"
    ENDED = "ended"
    RECALLED = "recalled"
