"""Small helpers shared by the page modules: redirects with a flash, bilingual messages, SSE framing."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dunning.entrypoints.http.i18n import pick
from dunning.entrypoints.http.security import session_of


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def done(request: Request, url: str, zh: str, en: str, kind: str = "ok") -> RedirectResponse:
    """Flash a message for the next page and redirect there (post/redirect/get)."""
    session_of(request).flash(kind, pick(request, zh, en))
    return redirect(url)


def query_base(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def sse_event(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def sse_response(request: Request, produce: Callable[[], dict[str, Any]], *, interval: float = 1.0,
                 finished: Callable[[dict[str, Any]], bool] = lambda _d: False, once: bool = False,
                 max_seconds: float = 4 * 3600) -> StreamingResponse:
    """Poll ``produce`` (run in a worker thread) every ``interval`` seconds and stream each result as a
    ``progress`` event; stop with an ``end`` event when ``finished`` says so, the client leaves, or ``once``."""

    async def stream() -> AsyncIterator[str]:
        started = time.monotonic()
        yield "retry: 3000\n\n"
        while True:
            data = await run_in_threadpool(produce)
            yield sse_event("progress", data)
            if once or finished(data) or time.monotonic() - started > max_seconds:
                yield sse_event("end", {})
                return
            await asyncio.sleep(interval)
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class RateMeter:
    """Per-second rates from successive counts (for the live progress), averaged over the last ``window`` seconds:
    a batch committed between two polls does not read as a burst above the channel's configured rate."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._seen: dict[Any, deque[tuple[float, dict[str, int]]]] = {}

    def rates(self, key: Any, counts: dict[str, int], *, now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        q = self._seen.setdefault(key, deque())
        q.append((now, counts))
        while len(q) > 2 and now - q[1][0] >= self.window:
            q.popleft()
        t0, first = q[0]
        dt = now - t0
        if dt <= 0:
            return {k: 0.0 for k in counts}
        return {k: round(max(0, v - first.get(k, 0)) / dt, 1) for k, v in counts.items()}
