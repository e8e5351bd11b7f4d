"""List pages: the page request from the query string, and an export answered as a download."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from dunning.entrypoints.web.common import query_base
from dunning.errors import InputError
from dunning.services.queries.exporting import ExportFile
from dunning.services.queries.paging import PageRequest


def page_request(page: int | None, sort: str, export: str, per_page: int | None = None) -> PageRequest:
    """The page asked for, or (with ``export``) every matching row in the sort shown."""
    return PageRequest.export(sort) if export else PageRequest.of(page, per_page, sort)


def parse_id(value: str) -> int | None:
    """A number typed in a filter box; empty means no filter, anything else but digits is a clear error."""
    v = (value or "").strip().lstrip("#")
    if not v:
        return None
    if not v.isdigit() or len(v) > 18:
        raise InputError(f"编号应为数字：{value}", f"ids are numbers: {value}", code="input.id")
    return int(v)


def filters_query(params: dict[str, Any]) -> str:
    return query_base(**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()})


def download(f: ExportFile) -> Response:
    return Response(f.body, media_type=f.media_type,
                    headers={"Content-Disposition": f"attachment; filename=\"{f.filename}\"",
                             "Cache-Control": "no-store"})
