"""Access logs without credentials or phone numbers.

uvicorn's access log prints each request line; a Kannel callback's query carries ``token=…&from=+86…&text=…``
and a path can carry a phone number. :class:`AccessLogScrubber` (installed on the ``uvicorn.access`` logger by
:func:`install`) replaces the query string with ``?…`` and masks anything that looks like a phone number.
"""

from __future__ import annotations

import logging
import re

# 7+ digits, optionally with a leading + (a mobile or a landline, in any country format)
_PHONE = re.compile(r"(?:\+|%2[bB])?\d{3}(?:[-\s]?\d){4,}")


def scrub_target(target: str) -> str:
    """A request target fit for a log: no query string, no phone number."""
    path, sep, _ = target.partition("?")
    path = _PHONE.sub(lambda m: m.group(0)[:3] + "****", path)
    return path + ("?…" if sep else "")


class AccessLogScrubber(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], scrub_target(args[2]), *args[3:])
        return True


def install() -> None:
    """Add the scrubber to ``uvicorn.access`` once (idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogScrubber) for f in logger.filters):
        logger.addFilter(AccessLogScrubber())
