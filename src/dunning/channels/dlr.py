"""The SMSC delivery-receipt text (SMPP 3.4 appendix B: ``id:… sub:… dlvrd:… submit date:… done date:…
stat:… err:…``) and its ``stat`` words, shared by the SMPP adapter (deliver_sm receipts) and the HTTP gateway
(Kannel's ``%A`` reply and the JSON aggregator's ``status``).

Contract: :func:`receipt_fields` never raises (fields it cannot find are absent, keys lower-case);
:func:`stat_status` maps a ``stat`` word, in any case, to a :class:`DeliveryStatus` (UNKNOWN when unlisted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dunning.channels.base import DeliveryStatus

_RECEIPT_FIELD = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err)\s*:\s*([^\s]*)")

# The final states an SMSC or aggregator writes, abbreviated (appendix B) and spelled out.
STAT: dict[str, DeliveryStatus] = {
    "DELIVRD": DeliveryStatus.DELIVERED,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "UNDELIV": DeliveryStatus.FAILED,
    "UNDELIVERABLE": DeliveryStatus.FAILED,
    "REJECTD": DeliveryStatus.FAILED,
    "REJECTED": DeliveryStatus.FAILED,
    "FAILED": DeliveryStatus.FAILED,
    "DELETED": DeliveryStatus.FAILED,
}


def receipt_fields(text: str) -> dict[str, str]:
    """The ``name:value`` fields of a receipt text, names lower-cased (``"done date"`` keeps its space)."""
    return {k.lower(): v for k, v in _RECEIPT_FIELD.findall(text)}


def stat_status(word: str) -> DeliveryStatus:
    return STAT.get(word.upper(), DeliveryStatus.UNKNOWN)


def part_state(statuses: Iterable[str]) -> str | None:
    """What the receipts of one message part say, in the order they were received: ``failed`` once any said
    failed (some gateways, Kannel among them, send one receipt per part under one id: a later "delivered" must
    never hide an earlier failure), otherwise the latest final status; ``None`` while none is final."""
    state: str | None = None
    for st in statuses:
        if st == DeliveryStatus.FAILED:
            return DeliveryStatus.FAILED.value
        if st != DeliveryStatus.UNKNOWN:
            state = str(st)
    return state
