"""The Celery app and its one task, ``dunning.dispatch_campaign(campaign_id, pilot_only=False, requested_by=…)``,
on the ``dispatch_queue`` of the settings.

Services enqueue the task by name (:func:`dunning.services.campaigns.sending.enqueue_dispatch`, after their commit);
this module is the consuming side. The task carries ids only and runs the same dispatch code as the embedded
``inline`` mode.
"""

from __future__ import annotations

import os

from celery import Celery, Task

from dunning.config import Settings
from dunning.errors import ConfigError
from dunning.services.campaigns import lifecycle
from dunning.services.campaigns.sending import DISPATCH_TASK
from dunning.services.context import build_context


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
    )

    @app.task(name=DISPATCH_TASK, bind=True)
    def dispatch_campaign(self: Task, campaign_id: int, pilot_only: bool = False, requested_by: str = "system") -> str:
        # Idempotent by construction, so a second delivery (acks_late redelivery after a crash, or the broker's
        # visibility timeout passing during a long run) is harmless: the campaign lease lets one sender at a
        # time in (a concurrent duplicate returns "busy"), the outbox claim moves each message out of `queued`
        # exactly once, and a dead sender's `submitting` rows are reconciled, never resent.
        ctx = build_context(settings)
        try:
            outcome = lifecycle.dispatch_enqueued(
                ctx, campaign_id, pilot_only=pilot_only, task_id=str(self.request.id),
                worker=f"{self.request.hostname}:{os.getpid()}", requested_by=requested_by)
        finally:
            ctx.db.dispose()
        return outcome.stopped

    return app
