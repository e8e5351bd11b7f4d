"""Portfolio import: read and clean (intake), persist accepted accounts and every reject, report, audit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dunning.db.bulk import Sql, bulk_insert, read_frame
from dunning.db.models import Account, Import, PhoneFlag, RejectRow
from dunning.intake import read_portfolio, write_reject_report
from dunning.intake.readers import read_exclude
from dunning.services import audit
from dunning.services.context import AppContext

ACCOUNT_COLUMNS = [
    "loan_id", "name", "phone", "amount_due_fen", "due_date", "penalty_rate", "overdue_count", "product",
    "payday", "region", "agency", "dpd", "bucket", "source_file", "source_row", "address", "lat", "lon",
]


@dataclass
class ImportSummary:
    import_id: int
    rows: int
    accepted: int
    rejected: int
    reasons: dict[str, int]
    reject_report: str | None
    reject_report_xlsx: str | None = None
    as_of: str = ""
    already_imported: bool = False
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _content_sha(paths: Sequence[Path], as_of: date, extra: Sequence[Path]) -> str:
    h = hashlib.sha256(as_of.isoformat().encode())
    for p in [*paths, *extra]:
        h.update(b"\0" + p.name.encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def import_portfolio(
    ctx: AppContext,
    paths: Sequence[Path],
    *,
    as_of: date | None = None,
    mapping: Path | None = None,
    exclude: Sequence[Path] = (),
    encoding: str | None = None,
    actor: str = "system",
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportSummary:
    """Import one snapshot (one or more files). Importing the same files for the same as-of date again returns
    the earlier import instead of creating a second copy of every account."""
    as_of = as_of or ctx.today()
    paths = [Path(p) for p in paths]
    sha = _content_sha(paths, as_of, [*exclude, *([mapping] if mapping else [])])
    with ctx.db.transaction() as s:
        existing = s.scalars(select(Import).where(Import.content_sha == sha, Import.kind == "portfolio")).first()
        if existing is not None:
            return ImportSummary(existing.id, existing.rows, existing.accepted, existing.rejected,
                                 dict(existing.reasons), existing.reject_report, None, existing.as_of.isoformat(),
                                 True, list(existing.files))

    result = read_portfolio(paths, as_of=as_of, mapping=mapping, exclude=exclude, encoding=encoding,
                            progress=progress)
    assert result.accepted.height + result.rejected.height == result.rows, "intake lost rows"  # nosec B101  # narrows a type for mypy; the invariant holds by construction

    with ctx.db.transaction() as s:
        imp = Import(kind="portfolio", as_of=as_of, files=[str(p) for p in paths], rows=result.rows,
                     accepted=result.accepted.height, rejected=result.rejected.height, reasons=result.reasons,
                     content_sha=sha, created_by=actor, created_at=ctx.now())
        s.add(imp)
        s.flush()
        accounts = result.accepted.select(ACCOUNT_COLUMNS).with_columns(pl.lit(imp.id).alias("import_id"))
        bulk_insert(s, Account.__table__, accounts)  # type: ignore[arg-type]
        rejects = result.rejected.select(
            pl.lit(imp.id).alias("import_id"), "source_file", "source_row", "reason", "message_zh", "raw"
        )
        bulk_insert(s, RejectRow.__table__, rejects)  # type: ignore[arg-type]
        csv_path = xlsx_path = None
        if result.rejected.height:
            stem = ctx.data_dir / "reports" / f"import-{imp.id}-rejects"
            stem.parent.mkdir(parents=True, exist_ok=True)
            csv_p, xlsx_p = write_reject_report(result.rejected, stem)
            csv_path, xlsx_path = str(csv_p), str(xlsx_p)
            imp.reject_report = csv_path
        flagged = _flag_do_not_contact(ctx, s, exclude, imp.id, encoding) if exclude else 0
        audit.record(s, at=ctx.now(), actor=actor, action="import.create", entity="import", entity_id=imp.id,
                     after={"rows": result.rows, "accepted": imp.accepted, "rejected": imp.rejected,
                            "reasons": result.reasons, "as_of": as_of.isoformat(), "do_not_contact_flagged": flagged})
        return ImportSummary(imp.id, result.rows, imp.accepted, imp.rejected, dict(result.reasons), csv_path,
                             xlsx_path, as_of.isoformat(), False, [str(p) for p in paths])


def _flag_do_not_contact(ctx: AppContext, s: Session, exclude: Sequence[Path], import_id: int,
                         encoding: str | None) -> int:
    """The exclusion lists (complaints, disputes, deceased, litigation) also stand beyond this import: each number
    becomes a ``do_not_contact`` flag, so messages already planned from earlier snapshots are stopped at the
    re-check before sending, and later imports without the list are still suppressed at planning.
    Returns how many numbers were newly flagged (or flagged again after being cleared)."""
    phones = read_exclude(exclude, encoding).unique()
    if phones.is_empty():
        return 0
    existing = read_frame(s, "SELECT phone, cleared_at FROM phone_flags WHERE kind = 'do_not_contact'",
                          schema={"phone": pl.Utf8, "cleared_at": pl.Utf8})
    listed = pl.DataFrame({"phone": phones}).join(existing, on="phone", how="left")
    new = listed.filter(~pl.col("phone").is_in(existing["phone"].implode()))["phone"]
    cleared = listed.filter(pl.col("cleared_at").is_not_null())["phone"].to_list()
    now, files = ctx.now(), "、".join(Path(p).name for p in exclude)
    detail = f"排除名单 {files}（导入 #{import_id}）"
    bulk_insert(s, PhoneFlag.__table__, pl.DataFrame({"phone": new}).with_columns(  # type: ignore[arg-type]
        pl.lit("do_not_contact").alias("kind"), pl.lit(detail).alias("detail"),
        pl.lit(Sql(s.connection().engine).ts(now)).alias("created_at")))
    for i in range(0, len(cleared), 500):
        s.execute(update(PhoneFlag).where(PhoneFlag.kind == "do_not_contact", PhoneFlag.phone.in_(cleared[i:i + 500]))
                  .values(cleared_at=None, detail=detail))
    return new.len() + len(cleared)


def latest_import_id(ctx: AppContext) -> int | None:
    with ctx.db.transaction() as s:
        return s.scalars(
            select(Import.id).where(Import.kind == "portfolio").order_by(Import.id.desc()).limit(1)
        ).first()
