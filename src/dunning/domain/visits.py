"""Field visits as values: the states of a visit and of an escalated alarm's alert SMS.

The values are the ones stored in ``visits.state`` and ``visit_alerts.state``; the Chinese labels live with the
services that show them (``services/visits``), keyed by these members.
"""

from __future__ import annotations

from enum import StrEnum


class VisitState(StrEnum):
    """A visit from request to check-out: requested → approved | rejected → in_field → closed."""

    REQUESTED = "requested"  # awaiting a supervisor's decision
    APPROVED = "approved"  # registered (报备): has a registration number, not started
    REJECTED = "rejected"  # refused by a supervisor, with a reason
    IN_FIELD = "in_field"  # checked in: the safety timer watches it
    CLOSED = "closed"  # checked out with an outcome
    CANCELLED = "cancelled"  # labelled (已取消) since visits began, but no command sets it today


class VisitAlertState(StrEnum):
    """An alert SMS of an escalated alarm: pending → sending → sent | failed, or cancelled by an acknowledgement."""

    PENDING = "pending"  # queued, or waiting for its next attempt
    SENDING = "sending"  # claimed: on the wire
    SENT = "sent"  # accepted by the channel
    FAILED = "failed"  # permanent error, attempts or deadline spent
    CANCELLED = "cancelled"  # the alarm was acknowledged before it went
