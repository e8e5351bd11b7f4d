"""One vocabulary for states: every label map and transition table of visits and agencies is keyed by exactly the
members of its enum, so a new state without a Chinese label (or without a row in its table) fails here."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from dunning.domain.agencies import AgencyStatus, AllocationPeriodState, TenderState
from dunning.domain.visits import VisitAlertState, VisitState
from dunning.services.agencies import queries as agency_queries
from dunning.services.agencies import registry, tenders
from dunning.services.visits import queries, requests

TABLES: list[tuple[str, dict[Any, Any], type[StrEnum]]] = [
    ("visits.requests.STATE_ZH", requests.STATE_ZH, VisitState),
    ("visits.queries.ALERT_ZH", queries.ALERT_ZH, VisitAlertState),
    ("agencies.registry.STATUS_ZH", registry.STATUS_ZH, AgencyStatus),
    ("agencies.registry.TRANSITIONS", registry.TRANSITIONS, AgencyStatus),
    ("agencies.tenders.STATE_ZH", tenders.STATE_ZH, TenderState),
    ("agencies.queries.PERIOD_ZH", agency_queries.PERIOD_ZH, AllocationPeriodState),
]


def gaps(table: dict[Any, Any], enum: type[StrEnum]) -> dict[str, list[str]]:
    """What keeps ``table`` from being keyed by exactly ``enum``'s members (empty lists when nothing)."""
    return {"missing": sorted(m for m in enum if m not in table),
            "extra": sorted(str(k) for k in table if k not in set(enum)),
            "not_members": sorted(str(k) for k in table if not isinstance(k, enum))}


@pytest.mark.parametrize(("name", "table", "enum"), TABLES, ids=[t[0] for t in TABLES])
def test_table_covers_exactly_the_members(name: str, table: dict[Any, Any], enum: type[StrEnum]) -> None:
    assert gaps(table, enum) == {"missing": [], "extra": [], "not_members": []}, name
    assert all(v for v in table.values() if isinstance(v, str)), f"{name}: an empty label"


def test_a_state_without_a_label_is_caught() -> None:
    short = {k: v for k, v in requests.STATE_ZH.items() if k != VisitState.CLOSED}
    assert gaps(short, VisitState)["missing"] == ["closed"]
    loose = {str(k): v for k, v in tenders.STATE_ZH.items()}
    assert gaps(loose, TenderState)["not_members"] == sorted(TenderState)


def test_agency_transitions_stay_inside_the_vocabulary() -> None:
    assert registry.STATUSES == tuple(AgencyStatus)
    for src, dsts in registry.TRANSITIONS.items():
        assert all(isinstance(d, AgencyStatus) for d in dsts), src
    assert registry.TRANSITIONS[AgencyStatus.TERMINATED] == frozenset()
