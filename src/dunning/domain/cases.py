"""Borrower cases as values: the types, the states and their transitions, labels in Chinese and English."""

from __future__ import annotations

from enum import StrEnum


class CaseType(StrEnum):
    DISPUTE = "dispute"  # the borrower contests the debt or its amount
    WRONG_PERSON = "wrong_person"  # 不是本人 / wrong number
    ALREADY_PAID = "already_paid"  # 已还款: a payment check, resolved by an imported repayment
    HARDSHIP = "hardship"  # hardship or instalment request
    COMPLAINT = "complaint"
    CALLBACK = "callback"  # asks to be called back


class CaseState(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"  # waiting for the borrower
    RESOLVED = "resolved"
    REJECTED = "rejected"


OPEN_STATES: frozenset[CaseState] = frozenset({CaseState.NEW, CaseState.IN_PROGRESS, CaseState.WAITING})
CLOSED_STATES: frozenset[CaseState] = frozenset({CaseState.RESOLVED, CaseState.REJECTED})

CASE_TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.NEW: frozenset({CaseState.IN_PROGRESS, CaseState.WAITING, CaseState.RESOLVED, CaseState.REJECTED}),
    CaseState.IN_PROGRESS: frozenset({CaseState.WAITING, CaseState.RESOLVED, CaseState.REJECTED}),
    CaseState.WAITING: frozenset({CaseState.IN_PROGRESS, CaseState.RESOLVED, CaseState.REJECTED}),
    CaseState.RESOLVED: frozenset(),
    CaseState.REJECTED: frozenset(),
}

CASE_TYPE_ZH: dict[str, str] = {
    CaseType.DISPUTE: "异议", CaseType.WRONG_PERSON: "非本人", CaseType.ALREADY_PAID: "已还款核实",
    CaseType.HARDSHIP: "困难/分期", CaseType.COMPLAINT: "投诉", CaseType.CALLBACK: "回电请求",
}
CASE_TYPE_EN: dict[str, str] = {
    CaseType.DISPUTE: "Dispute", CaseType.WRONG_PERSON: "Wrong person", CaseType.ALREADY_PAID: "Payment check",
    CaseType.HARDSHIP: "Hardship / instalments", CaseType.COMPLAINT: "Complaint", CaseType.CALLBACK: "Call-back",
}
CASE_STATE_ZH: dict[str, str] = {
    CaseState.NEW: "新建", CaseState.IN_PROGRESS: "处理中", CaseState.WAITING: "等待借款人",
    CaseState.RESOLVED: "已解决", CaseState.REJECTED: "已驳回",
}
CASE_STATE_EN: dict[str, str] = {
    CaseState.NEW: "New", CaseState.IN_PROGRESS: "In progress", CaseState.WAITING: "Waiting for borrower",
    CaseState.RESOLVED: "Resolved", CaseState.REJECTED: "Rejected",
}


def case_can(src: CaseState, dst: CaseState) -> bool:
    return dst in CASE_TRANSITIONS[src]


def case_number(case_id: int) -> str:
    """The number a borrower is told (and may read back to the hotline)."""
    return f"AJ{case_id:07d}"


def parse_case_number(text: str) -> int | None:
    t = text.strip().upper().removeprefix("AJ")
    return int(t) if t.isdigit() and 0 < len(t) <= 12 else None
