"""Group commit of submit outcomes: provider ids are stored as each channel call answers, not per claim.

A claim is sent in several channel calls (chunks, see :mod:`dunning.dispatch.batches`). Waiting for the last
chunk before recording the claim would leave the earlier chunks' provider ids only in memory for as long as
the slowest call takes — a ``kill -9`` then turns all of them into ``held`` messages for a person to resolve.
The :class:`Recorder` stores each call's results as soon as it answers: whatever has arrived while the
previous write ran goes in the next transaction (classic group commit, no timer: under load a write gathers
many calls, at low rates each call is written on its own a few milliseconds after its answer). Issue #15:
after a kill only what was actually in flight is unknown.

The writes run on the thread ``run_db`` hands them to: on PostgreSQL a thread of their own, beside the claims;
on SQLite (one writer at a time) the run's single database thread, in order with the claims.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from dunning.channels.base import SubmitResult
from dunning.db.bulk import Sql
from dunning.dispatch import outbox
from dunning.dispatch.outbox import Recorded
from dunning.dispatch.progress import Progress
from dunning.dispatch.retry import RetryPolicy


@dataclass
class _Pending:
    channel: str
    results: list[SubmitResult]
    attempts: dict[int, int]
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


Write = Callable[[str, Sequence[SubmitResult], dict[int, int]], Recorded]


def outbox_write(engine: Engine, sql: Sql, clock: Callable[[], Any], retry: RetryPolicy, rng: Any) -> Write:
    """The write of :func:`dunning.dispatch.outbox.record`, timed when it runs (on the database thread)."""

    def write(channel: str, results: Sequence[SubmitResult], attempts: dict[int, int]) -> Recorded:
        return outbox.record(engine, sql, channel=channel, results=results, now=clock(), retry=retry,
                             attempts=attempts, rng=rng)

    return write


class Recorder:
    """Stores :class:`SubmitResult` lists in group commits; :meth:`put` returns a future set once they are
    committed (or failed with the write's exception); ``progress`` counts what each write stored."""

    def __init__(self, run_db: Callable[..., Awaitable[Any]], write: Write, progress: Progress) -> None:
        self._run_db = run_db
        self._write = write
        self._progress = progress
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outstanding: set[asyncio.Future[None]] = set()

    def put(self, channel: str, results: list[SubmitResult], attempts: dict[int, int]) -> asyncio.Future[None]:
        item = _Pending(channel, results, attempts)
        if not results:
            item.done.set_result(None)
            return item.done
        self._pending.append(item)
        self._outstanding.add(item.done)
        item.done.add_done_callback(self._outstanding.discard)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._loop())
        return item.done

    async def close(self) -> None:
        """Wait for every write handed out so far, then stop."""
        if self._outstanding:
            await asyncio.wait(set(self._outstanding))
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            by_channel: dict[str, list[_Pending]] = {}
            for item in batch:
                by_channel.setdefault(item.channel, []).append(item)
            for channel, items in by_channel.items():
                results = [r for item in items for r in item.results]
                attempts = {k: v for item in items for k, v in item.attempts.items()}
                try:
                    rec = await self._run_db(self._write, channel, results, attempts)
                    self._progress.add(rec.submitted, rec.failed, rec.retried, rec.held)
                except Exception as exc:  # noqa: BLE001  # handed to every waiter, who raises it
                    for item in items:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                for item in items:
                    if not item.done.done():
                        item.done.set_result(None)
