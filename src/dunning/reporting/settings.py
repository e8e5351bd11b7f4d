"""How outcomes are measured (:class:`OutcomeSettings`) and the names the measurement shares: the hold-out arm,
the stratum of a random assignment, the message states that left us."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from statistics import NormalDist

from dunning.domain.states import ATTEMPTED_STATES


@dataclass(frozen=True)
class OutcomeSettings:
    """How outcomes are measured. ``window_days``: attribution and repayment window (inclusive);
    ``curve_days``: how far the repayment curve runs; ``confidence``/``power``: of the tests and of the sample
    size advice; ``min_effect``: the smallest repayment-rate difference worth detecting (absolute share);
    ``complaint_rate_limit``: complaints (opt-outs + disputes) per delivered message above which a template is a
    finding; ``min_complaints``: complaints a template needs before "significantly above the rest" is judged."""

    window_days: int = 7
    curve_days: int = 14
    confidence: float = 0.95
    power: float = 0.8
    min_effect: float = 0.02
    complaint_rate_limit: float = 0.02
    min_complaints: int = 5

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.curve_days < 1:
            raise ValueError("window_days and curve_days must be at least 1")
        if not 0.5 < self.confidence < 1 or not 0 < self.power < 1:
            raise ValueError("confidence must be in (0.5, 1) and power in (0, 1)")
        if not 0 < self.min_effect < 1:
            raise ValueError("min_effect is a share in (0, 1)")

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)


HOLDOUT = "holdout"
# Assignment to a variant or to the hold-out is random within a stratum.
STRATUM = ("segment", "step")
# Message states that left us (a queued message that expired at the end of the send window never did).
ATTEMPTED = ATTEMPTED_STATES
