"""Strategy: segments, cadence, send window, caps, champion/challenger. Pure functions over Polars frames."""

from dunning.strategy.model import StrategySpec, load_bundled_strategy, load_strategy, parse_strategy
from dunning.strategy.plan import assign_steps

__all__ = ["StrategySpec", "assign_steps", "load_bundled_strategy", "load_strategy", "parse_strategy"]
