"""The Celery app and its one task, ``dunning.dispatch_campaign(campaign_id, pilot_only=False, requested_by=…)``,
on the ``dispatch_queue`` of the settings.

Services enqueue the task by name (:func:`dunning.services.campaigns.sending.enqueue_dispatch`, after their commit);
this module is the consuming side. The task carries ids only and runs the same dispatch code as the embedded
``inline`` mode. Each worker also runs a rescuer (:mod:`dunning.services.campaigns.rescue`): a campaign whose
sender died is enqueued again, so it is picked up by another worker (or this one on restart) within
``worker_rescue_seconds`` plus the dead lease's ttl, not after the broker's visibility timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready, worker_shutdown

from dunning.config import Settings
from dunning.errors import ConfigError
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.rescue import rescue_stalled
from dunning.services.campaigns.sending import DISPATCH_TASK
from dunning.services.context import build_context

log = logging.getLogger("dunning.worker")


class Rescuer(threading.Thread):
    """Every ``interval`` seconds, enqueue the campaigns whose sender died (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="dunning-rescuer", daemon=True)
        self.settings = settings
        self.stopping = threading.Event()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def run(self) -> None:
        interval = max(1.0, float(self.settings.worker_rescue_seconds))
        while not self.stopping.wait(interval):
            try:
                ctx = build_context(self.settings)
                try:
                    for cid in rescue_stalled(ctx, worker=self.worker, interval=interval):
                        log.warning("campaign %s: its sender died; dispatch enqueued again", cid)
                finally:
                    ctx.db.dispose()
            except Exception:  # a database or broker outage must not end the rescuer; next round retries
                log.exception("rescue round failed; retrying in %.0f s", interval)


def create_app(settings: Settings) -> Celery:
    """A Celery app on ``settings.broker_url`` with the dispatch task registered (no result backend)."""
    if not settings.broker_url:
        raise ConfigError("dunning worker 需要配置 broker_url（redis:// 或 amqp://）",
                          "dunning worker needs broker_url (redis:// or amqp://)")
    app = Celery("dunning", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        # A task is acknowledged only once it ran, and a worker holds one unstarted task at a time, so a
        # crashed or killed worker's campaign goes back to the queue instead of being lost or hoarded.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue=settings.dispatch_queue,  # the worker consumes this queue only
        broker_transport_options={"visibility_timeout": float(settings.broker_visibility_timeout)},
    )
    rescuer: dict[str, Rescuer] = {}

    @worker_ready.connect(weak=False)
    def _start_rescuer(sender: Any = None, **_: Any) -> None:
        if sender is not None and getattr(sender, "app", None) is not app:
            return
        rescuer["thread"] = Rescuer(settings)
        rescuer["thread"].start()

    @worker_shutdown.connect(weak=False)
    def _stop_rescuer(sender: Any = None, **_: Any) -> None:
        if "thread" in rescuer:
            rescuer["thread"].stopping.set()

    @app.task(name=DISPATCH_TASK, bind=True)
    def dispatch_campaign(self: Task, campaign_id: int, pilot_only: bool = False, requested_by: str = "system") -> str:
        # Idempotent by construction, so a second delivery (acks_late redelivery after a crash, the broker's
        # visibility timeout passing during a long run, or a rescue) is harmless: the campaign lease lets one
        # sender at a time in (a concurrent duplicate returns "busy"), the outbox claim moves each message out of
        # `queued` exactly once, and a dead sender's `submitting` rows are reconciled, never resent.
        ctx = build_context(settings)
        try:
            outcome = lifecycle.dispatch_enqueued(
                ctx, campaign_id, pilot_only=pilot_only, task_id=str(self.request.id),
                worker=f"{self.request.hostname}:{os.getpid()}", requested_by=requested_by)
        finally:
            ctx.db.dispose()
        return outcome.stopped

    return app
