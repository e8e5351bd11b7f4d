"""What a run reports: live counters while sending and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Progress:
    """Live counters of one run (for progress bars and the web console)."""

    total: int
    submitted: int = 0
    failed: int = 0
    suppressed: int = 0
    retried: int = 0
    events: int = 0
    held: int = 0
    delivered: int = 0  # messages of the campaign in state ``delivered`` (refreshed about once a second)
    rate: float = 0.0  # submitted per second since the run started
    elapsed: float = 0.0
    channel: str = ""  # the channel sending now (changes on failover)

    @property
    def done(self) -> int:
        return self.submitted + self.failed + self.suppressed + self.held

    def add(self, submitted: int, failed: int, retried: int, held: int) -> None:
        """Count what one write of submit outcomes stored (see :mod:`dunning.dispatch.recorder`)."""
        self.submitted += submitted
        self.failed += failed
        self.retried += retried
        self.held += held


@dataclass
class DispatchOutcome:
    """How a run ended. ``stopped``: done | paused | cancelled | window_wait | window_closed | breaker |
    channel_down | busy | lease_lost. ``detail`` is a Chinese sentence for the operator."""

    stopped: str
    progress: Progress
    detail: str = ""
    failovers: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, reason)
    reconciled: dict[str, int] = field(default_factory=dict)
