"""Long work started from the console or the API runs in a background thread; the page follows its progress.

A job is a view of work whose truth lives in the database (the import's rows, the campaign's message states):
losing this in-memory registry on a restart loses only the progress bar, never the work's outcome. A ``key``
keeps one running job per subject (e.g. one sender per campaign).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dunning.errors import DunningError
from dunning.services.context import AppContext

_ids = itertools.count(1)


def fork_context(ctx: AppContext) -> AppContext:
    """A context for another thread: same settings, database and clock; its own channel instances."""
    return AppContext(settings=ctx.settings, db=ctx.db, clock=ctx.clock, channel_io=ctx.channel_io)


@dataclass
class Job:
    id: str
    kind: str  # import | plan | pilot | send
    title_zh: str
    title_en: str
    actor: str
    key: str | None = None
    state: str = "running"  # running | done | failed
    stage: str = ""
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    result_url: str | None = None
    error: dict[str, str] | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def update(self, stage: str | None = None, done: int | None = None, total: int | None = None) -> None:
        if stage is not None:
            self.stage = stage
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total

    @property
    def pct(self) -> float | None:
        return round(100.0 * self.done / self.total, 1) if self.total else None

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.id, "kind": self.kind, "title_zh": self.title_zh, "title_en": self.title_en,
                "actor": self.actor, "state": self.state, "stage": self.stage, "done": self.done,
                "total": self.total, "pct": self.pct, "result": self.result, "result_url": self.result_url,
                "error": self.error, "started_at": self.started_at, "finished_at": self.finished_at}


class JobRunner:
    def __init__(self, keep_seconds: float = 3600.0) -> None:
        self._jobs: dict[str, Job] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._keep = keep_seconds

    def start(self, kind: str, title_zh: str, title_en: str, actor: str, fn: Callable[[Job], None], *,
              key: str | None = None) -> Job:
        """Run ``fn(job)`` in a thread; with ``key``, an already running job of that key is returned instead."""
        with self._lock:
            self._prune()
            if key is not None:
                for j in self._jobs.values():
                    if j.key == key and j.state == "running":
                        return j
            job = Job(str(next(_ids)), kind, title_zh, title_en, actor, key)
            self._jobs[job.id] = job
            t = threading.Thread(target=self._run, args=(job, fn), name=f"dunning-{kind}-{job.id}", daemon=True)
            self._threads[job.id] = t
        t.start()
        return job

    @staticmethod
    def _run(job: Job, fn: Callable[[Job], None]) -> None:
        try:
            fn(job)
            job.state = "done"
        except DunningError as exc:
            job.state = "failed"
            job.error = exc.to_dict()
        finally:
            if job.state == "running":  # an unexpected error: it propagates to the thread's excepthook (logged)
                job.state = "failed"
                job.error = {"code": "internal", "message_zh": "后台任务意外中止，详情见服务日志。",
                             "message_en": "The background job stopped unexpectedly; see the server log."}
            job.finished_at = time.time()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def latest(self, key: str) -> Job | None:
        found = [j for j in self._jobs.values() if j.key == key]
        return max(found, key=lambda j: j.started_at) if found else None

    def running(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.state == "running"]

    def wait(self, timeout: float = 30.0) -> None:
        """Join every running thread (shutdown and tests)."""
        deadline = time.monotonic() + timeout
        for t in list(self._threads.values()):
            t.join(max(0.0, deadline - time.monotonic()))

    def _prune(self) -> None:
        now = time.time()
        for jid, j in list(self._jobs.items()):
            if j.finished_at is not None and now - j.finished_at > self._keep:
                self._jobs.pop(jid, None)
                self._threads.pop(jid, None)
