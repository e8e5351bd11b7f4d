"""Tender rules through the services: the deadline, conflicts of interest, the four-eyes award."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dunning.db.agency_models import Agency
from dunning.db.models import AuditEvent
from dunning.errors import PermissionDenied, StateError
from dunning.services.agencies import tenders
from dunning.services.agencies.evaluation import score_sheet
from dunning.services.context import AppContext
from dunning.testing import FrozenClock
from tests.agencies.flow import APPROVER, EVAL1, EVAL2, MANAGER, open_tender, register, staff


@pytest.fixture
def tendered(ctx: AppContext, clock: FrozenClock):  # type: ignore[no-untyped-def]
    staff(ctx)
    return open_tender(ctx, clock, register(ctx))


def test_a_bid_after_the_deadline_is_refused(ctx: AppContext, clock: FrozenClock, tendered) -> None:  # type: ignore[no-untyped-def]
    clock.advance(hours=1)  # exactly the deadline: already late
    with pytest.raises(StateError) as err:
        tenders.submit_bid(ctx, tendered.tender_id, tendered.lot_id, actor="agent1", commission_rate=0.05,
                           capacity=9_000)
    assert err.value.code == "state.bid_late" and "逾期投标不予接受" in err.value.message_zh
    sheet = score_sheet(ctx, tendered.tender_id).sheet
    assert sheet.filter(sheet["agency"] == "华信商务")["commission_rate"].to_list() == [0.10]  # the bid stands


def test_a_conflicted_evaluator_cannot_score_that_bidder(ctx: AppContext, clock: FrozenClock, tendered) -> None:  # type: ignore[no-untyped-def]
    clock.advance(hours=2)
    hx, cd = tendered.bids["华信商务"], tendered.bids["诚达咨询"]
    tenders.score_bid(ctx, hx, {"security": 80, "team": 70}, actor=EVAL1)
    tenders.declare_conflict(ctx, tendered.tender_id, tendered.agencies["华信商务"], actor=EVAL1,
                             note="前同事在该机构任职")
    with pytest.raises(PermissionDenied):
        tenders.score_bid(ctx, hx, {"security": 90}, actor=EVAL1)
    tenders.score_bid(ctx, cd, {"security": 60, "team": 60}, actor=EVAL1)  # other bidders: still allowed
    matrix = score_sheet(ctx, tendered.tender_id).matrix
    assert set(matrix["bid_id"].to_list()) == {cd}  # the score given before the declaration was withdrawn
    with ctx.db.transaction() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "tender")).all()
    assert "tender.conflict" in actions


def test_scoring_before_the_deadline_is_refused(ctx: AppContext, tendered) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StateError):
        tenders.score_bid(ctx, tendered.bids["华信商务"], {"security": 80}, actor=EVAL1)


def test_the_award_needs_an_approver_who_did_not_evaluate(ctx: AppContext, clock: FrozenClock, tendered) -> None:  # type: ignore[no-untyped-def]
    clock.advance(hours=2)
    tenders.score_bid(ctx, tendered.bids["华信商务"], {"security": 80, "team": 80}, actor=EVAL1)
    a1, a2 = tendered.agencies["华信商务"], tendered.agencies["诚达咨询"]
    tenders.propose_award(ctx, tendered.tender_id, [(tendered.lot_id, a1, 0.6), (tendered.lot_id, a2, 0.4)],
                          actor=MANAGER)
    from dunning.services.identity.users import add_user

    add_user(ctx, "eval_compliance", "compliance", password="correct-horse-9")
    ctx_tender = tenders.get_tender
    with ctx.db.transaction() as s:
        ctx_tender(s, tendered.tender_id).evaluators = [EVAL1, EVAL2, "eval_compliance"]
    with pytest.raises(PermissionDenied):  # a compliance reviewer who is on the panel
        tenders.approve_award(ctx, tendered.tender_id, actor="eval_compliance")
    with pytest.raises(PermissionDenied):  # an evaluator (and not an approver role either)
        tenders.approve_award(ctx, tendered.tender_id, actor=EVAL1)
    tenders.approve_award(ctx, tendered.tender_id, actor=APPROVER)
    sheet = score_sheet(ctx, tendered.tender_id)
    assert sheet.state == "awarded" and sheet.approved_by == APPROVER
    assert {(a["agency"], a["share"]) for a in sheet.awards} == {("华信商务", 0.6), ("诚达咨询", 0.4)}
    with ctx.db.transaction() as s:
        assert set(s.scalars(select(Agency.status))) == {"active"}  # winning candidates became active


def test_bid_documents_are_limited_in_type_and_size(ctx: AppContext, tendered, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dunning.errors import InputError

    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ")
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"%PDF" + b"0" * tenders.BID_DOC_MAX_BYTES)
    for doc, code in ((exe, "input.file_type"), (big, "input.too_large")):
        with pytest.raises(InputError) as err:
            tenders.submit_bid(ctx, tendered.tender_id, tendered.lot_id, actor="agent1", commission_rate=0.09,
                               capacity=9_000, documents=[doc])
        assert err.value.code == code
    ok = tmp_path / "licence.pdf"
    ok.write_bytes(b"%PDF-1.4")
    tenders.submit_bid(ctx, tendered.tender_id, tendered.lot_id, actor="agent1", commission_rate=0.09, capacity=9_000,
                       documents=[ok])
    sheet = score_sheet(ctx, tendered.tender_id).sheet
    assert sheet.filter(sheet["agency"] == "华信商务")[["commission_rate", "documents"]].row(0) == (0.09, 1)
