"""Point 10: an operator (masked phones on screen) gets names and mobiles masked in the reject samples of
/imports/N and in the reject report download; compliance (full view) gets them whole; both downloads audited."""

from __future__ import annotations

import io
import json

import openpyxl
import polars as pl
from sqlalchemy import select, update

from dunning.db.models import AuditEvent, Import, RejectRow
from dunning.exports import write_csv, write_xlsx
from dunning.services.context import AppContext
from dunning.services.identity.users import Role
from tests.web.conftest import login_as
from tests.web.seed import Seeded

FULL_NAME, MOBILE = "欧阳娜娜", "13912345678"


def _reports(web_ctx: AppContext, seeded: Seeded) -> None:
    table = pl.DataFrame({"来源文件 file": ["a.csv"], "行号 row": ["3"], "原因代码 code": ["invalid_amount"],
                          "姓名": [FULL_NAME], "手机号": [MOBILE], "备注": [f"请联系 {MOBILE} 处理"]})
    stem = web_ctx.data_dir / "reports" / "import-1-rejects"
    write_csv(table, stem.with_suffix(".csv"))
    write_xlsx(table, stem.with_suffix(".xlsx"), "拒绝明细")
    with web_ctx.db.transaction() as s:
        s.execute(update(Import).where(Import.id == seeded.import_id).values(reject_report=str(stem) + ".csv"))
        s.execute(update(RejectRow).where(RejectRow.import_id == seeded.import_id).values(
            raw=json.dumps({"借款编号": "L3", "姓名": FULL_NAME, "手机号": MOBILE}, ensure_ascii=False)))


def test_operator_sees_masked_reject_details_compliance_sees_them_whole(app: object, seeded: Seeded,
                                                                         web_ctx: AppContext) -> None:
    _reports(web_ctx, seeded)
    op = login_as(app, Role.OPERATOR)  # type: ignore[arg-type]
    page = op.get(f"/imports/{seeded.import_id}").text
    assert FULL_NAME not in page and MOBILE not in page and "欧*" in page and "139****5678" in page
    csv = op.get(f"/imports/{seeded.import_id}/rejects.csv").content.decode("utf-8-sig")  # type: ignore[attr-defined]
    assert FULL_NAME not in csv and MOBILE not in csv and "欧*" in csv and "139****5678" in csv
    xlsx = op.get(f"/imports/{seeded.import_id}/rejects.xlsx").content  # type: ignore[attr-defined]
    cells = [c.value for row in openpyxl.load_workbook(io.BytesIO(xlsx)).active.iter_rows() for c in row]
    assert FULL_NAME not in cells and MOBILE not in cells and "欧*" in cells
    comp = login_as(app, Role.COMPLIANCE)  # type: ignore[arg-type]
    assert FULL_NAME in comp.get(f"/imports/{seeded.import_id}/rejects.csv").content.decode("utf-8-sig")  # type: ignore[attr-defined]
    with web_ctx.db.transaction() as s:
        masked = [(e.after or {}).get("masked") for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "import.rejects_download").order_by(AuditEvent.id))]
    assert masked == [True, True, False]
