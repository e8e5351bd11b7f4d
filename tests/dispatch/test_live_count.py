"""The live delivered count of a run reads every row of the campaign (no index names the state, ADR 0020). At
millions of messages one count takes a while: the next one then waits ten times as long as it took, so the count
never becomes the database's main work while the campaign is being sent."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dunning.config import ChannelSettings
from dunning.dispatch import engine as engine_module
from dunning.dispatch import outbox
from dunning.dispatch.engine import _Run
from tests.dispatch.support import dispatcher, make_ctx


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def _counts_started(tmp_path: Path, monkeypatch: Any, count_takes: float, at: list[float]) -> list[float]:
    """Ask for a count at each of the times ``at`` (seconds into the run); when each count started."""
    ctx = make_ctx(tmp_path, {"sandbox": ChannelSettings(kind="sandbox", rate=1000.0)})
    clock = FakeClock()
    monkeypatch.setattr(engine_module, "_time", clock)
    started: list[float] = []

    def count_states(*_: Any, **__: Any) -> dict[str, int]:
        started.append(round(clock.now - 100.0, 3))
        clock.now += count_takes
        return {"delivered": len(started)}

    monkeypatch.setattr(outbox, "count_states", count_states)
    run = _Run(dispatcher(ctx, "sandbox"), campaign_id=1, pilot_only=False)
    run.count_pool = ThreadPoolExecutor(1)

    async def ask() -> None:
        for t in at:
            clock.now = max(clock.now, 100.0 + t)
            run.count_delivered_soon()
            if run.counting is not None:
                await run.counting
    try:
        asyncio.run(ask())
    finally:
        run.count_pool.shutdown(wait=True)
        ctx.db.dispose()
    assert run.progress.delivered == len(started)
    return started


def test_a_quick_count_runs_once_a_second(tmp_path: Path, monkeypatch: Any) -> None:
    assert _counts_started(tmp_path, monkeypatch, 0.01, [1.0, 1.5, 2.02, 2.5, 3.1]) == [1.0, 2.02, 3.1]


def test_a_slow_count_is_spaced_out_by_ten_times_its_time(tmp_path: Path, monkeypatch: Any) -> None:
    # 0.5 s a count (a campaign of millions): the next one no sooner than 5 s after the last one started
    assert _counts_started(tmp_path, monkeypatch, 0.5, [1.0, 2.0, 4.0, 5.9, 6.1, 8.0, 11.2]) == [1.0, 6.1, 11.2]
