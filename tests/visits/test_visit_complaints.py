"""A complaint about a visit: opened from the visit as a complaint case linked to it (the case's subject), listed on
the visit with the conduct checklist the team confirmed at check-in."""

from __future__ import annotations

from datetime import date

import pytest

from dunning.db.case_models import Case
from dunning.errors import PermissionDenied
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from dunning.services.visits import complaints, field, queries
from dunning.services.visits.field import Position
from dunning.services.visits.policy import load_policy
from tests.visits.conftest import HOME, World, approved, local

TODAY = date(2026, 11, 23)
COMPLIANCE = Principal("qa", "合规", Role.COMPLIANCE)


def test_a_complaint_opened_from_a_visit_links_to_it_and_the_visit_lists_it(ctx: AppContext, world: World) -> None:
    rules = [c.code for c in load_policy().checklist]
    vid = approved(ctx, world, local(TODAY, 10))
    other = approved(ctx, world, local(TODAY, 15))
    assert complaints.conduct_record(ctx, world.supervisor, vid) is None  # no check-in yet
    field.check_in(ctx, world.lead, vid, Position(*HOME), checklist=rules, recording=True)
    with pytest.raises(PermissionDenied):  # a field collector does not open complaints about their own visit
        complaints.open_visit_complaint(ctx, world.collector, vid, "态度恶劣")
    ref = complaints.open_visit_complaint(ctx, COMPLIANCE, vid, "外访人员态度恶劣，在门口大声喧哗")
    assert ref.created and ref.type == "complaint"
    with ctx.db.transaction() as s:
        case = s.get(Case, ref.id)
        assert case is not None
        assert (case.subject_type, case.subject_id, case.phone, case.loan_ids) == (
            "visit", str(vid), "+8613912345678", ["L0001"])
    listed = complaints.visit_complaints(ctx, world.supervisor, vid)
    assert [(c.number, c.state) for c in listed] == [(ref.number, "new")]
    assert "大声喧哗" in listed[0].summary
    assert complaints.visit_complaints(ctx, world.supervisor, other) == []  # only the visit it names
    conduct = complaints.conduct_record(ctx, world.supervisor, vid)
    assert conduct is not None and conduct.by == "zhang" and conduct.recording
    assert [(a.code, a.confirmed) for a in conduct.answers] == [(c, True) for c in rules]
    kinds = [e["kind"] for e in queries.visit_detail(ctx, world.supervisor, vid).events]
    assert kinds == ["check_in", "complaint"]  # the visit's own trail records it too
    # A second complaint while the first is open joins it (the case rule), still linked to the visit.
    again = complaints.open_visit_complaint(ctx, COMPLIANCE, vid, "补充：还拍了照片")
    assert not again.created and again.id == ref.id
    assert "还拍了照片" in complaints.visit_complaints(ctx, world.supervisor, vid)[0].summary
