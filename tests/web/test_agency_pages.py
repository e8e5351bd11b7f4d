"""The agency view shows only the agency's own things; /identity lists the active agencies; the tender report
downloads; the commission statement exports."""

from __future__ import annotations

import io

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dunning.services.agencies import registry
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.identity.users import Role
from tests.web.conftest import login_as
from tests.web.seed import AGENCY, Seeded


def test_an_agency_user_sees_only_its_own_agency_allocation_and_scorecard(app: FastAPI, seeded: Seeded) -> None:
    agent = login_as(app, Role.AGENCY)
    page = agent.get("/agencies").text  # type: ignore[attr-defined]
    assert AGENCY in page and "其他机构" not in page
    other = registry.list_agencies(app.state.ctx, Principal("admin1", "a", Role.ADMIN, None, "session"))
    other_id = next(a.id for a in other if a.name == "其他机构")
    assert agent.get(f"/agencies/{other_id}").status_code == 403  # type: ignore[attr-defined]
    period = agent.get(f"/allocations/{seeded.period_id}").text  # type: ignore[attr-defined]
    assert AGENCY in period and "其他机构" not in period
    staff = login_as(app, Role.VIEWER).get(f"/allocations/{seeded.period_id}").text  # type: ignore[attr-defined]
    assert AGENCY in staff and "其他机构" in staff
    api = TestClient(app).get(f"/api/v1/agencies/periods/{seeded.period_id}",
                              headers={"Authorization": f"Bearer {seeded.tokens[Role.AGENCY]}"}).json()
    assert [r["name"] for r in api["scorecard"]] == [AGENCY] and [r["agency"] for r in api["by_agency"]] == [AGENCY]
    tender = agent.get(f"/tenders/{seeded.tender_id}").text  # type: ignore[attr-defined]
    assert "score-sheet" not in tender and "其他机构" not in tender
    assert agent.get(f"/tenders/{seeded.tender_id}/report.html").status_code == 403  # type: ignore[attr-defined]


def test_identity_lists_active_agencies_and_not_terminated_ones(app: FastAPI, web_ctx: AppContext) -> None:
    anon = TestClient(app)
    assert f"{AGENCY}服务有限公司" in anon.get("/identity").text
    other = next(a for a in registry.list_agencies(web_ctx, Principal("x", "x", Role.ADMIN, None, "session"))
                 if a.name == "其他机构")
    registry.blacklist(web_ctx, other.id, reason="数据泄露", actor="compliance1")
    page = anon.get("/identity").text
    assert "其他机构有限公司" not in page and f"{AGENCY}服务有限公司" in page


def test_tender_report_and_commission_download(app: FastAPI, seeded: Seeded) -> None:
    viewer = login_as(app, Role.VIEWER)
    r = viewer.get(f"/tenders/{seeded.tender_id}/report.xlsx")  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.content[:2] == b"PK"
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any(n.startswith("xl/worksheets/") for n in names)
    c = login_as(app, Role.AGENCY).get(f"/allocations/{seeded.period_id}/commission.csv")  # type: ignore[attr-defined]
    assert c.status_code == 200 and "佣金" in c.content.decode("utf-8")
