"""Every state-changing UPDATE of messages follows MESSAGE_TRANSITIONS (issue #16).

The dispatch and delivery code changes message states only through :class:`~dunning.domain.states.Move`s, which
refuse an illegal transition when they are built; the source scan below fails if an UPDATE bypasses them with a
state written into the SQL text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dunning.dispatch.outbox as outbox
import dunning.dispatch.reconcile as reconcile
import dunning.services.campaigns.delivery as delivery
from dunning.domain.states import MESSAGE_TRANSITIONS, MOVES, MessageState, Move, move

SRC = Path(outbox.__file__).resolve().parents[1]
STATE_CHANGERS = [Path(m.__file__) for m in (outbox, reconcile, delivery)] + sorted((SRC / "dispatch").glob("*.py"))


def test_every_declared_move_is_a_legal_transition() -> None:
    declared = [outbox.CLAIM, outbox.SUPPRESS, outbox.FAIL, outbox.SUBMIT, outbox.REQUEUE, outbox.HOLD,
                outbox.EXPIRE_QUEUED, outbox.EXPIRE_SUBMITTED, outbox.FOUND, outbox.ABSENT, *delivery._SETTLE.values()]
    assert set(declared) <= set(MOVES)
    for mv in MOVES:
        for src in mv.src:
            assert src == mv.dst or mv.dst in MESSAGE_TRANSITIONS[src], f"{src} → {mv.dst}"


@pytest.mark.parametrize(("src", "dst"), [
    (MessageState.DELIVERED, MessageState.QUEUED),  # a borrower would be reminded twice
    (MessageState.SUPPRESSED, MessageState.SUBMITTING),  # an opt-out would be sent to
    (MessageState.FAILED, MessageState.QUEUED),
    ((MessageState.SUBMITTING, MessageState.SUBMITTED), MessageState.QUEUED),  # one illegal source is enough
])
def test_a_move_to_an_illegal_transition_cannot_be_built(src: MessageState | tuple[MessageState, ...],
                                                        dst: MessageState) -> None:
    before = len(MOVES)
    with pytest.raises(ValueError, match="illegal message transition"):
        move(src, dst)
    assert len(MOVES) == before


def test_move_statements_bind_the_states_as_parameters() -> None:
    stmt = outbox.moving(outbox.FOUND, "reason = NULL")
    assert stmt == "UPDATE messages SET state = ?, reason = NULL WHERE id = ? AND state IN (?, ?)"
    assert outbox.move_params(outbox.FOUND, [7]) == ("submitted", 7, "submitting", "held")
    assert Move((MessageState.EXPIRED,), MessageState.EXPIRED).src == (MessageState.EXPIRED,)  # a re-stamp


_STATES = "|".join(s.value for s in MessageState)
_LITERAL_STATE = re.compile(rf"""\bstate\s*(?:=|IN)\s*\(?\s*'({_STATES})'""", re.IGNORECASE)


@pytest.mark.parametrize("path", STATE_CHANGERS, ids=lambda p: p.name)
def test_no_message_state_is_written_into_sql_text(path: Path) -> None:
    hits = [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
            if _LITERAL_STATE.search(line)]
    assert hits == [], "change message states through a Move (domain/states.py), not a literal in SQL"
