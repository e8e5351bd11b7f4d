"""Record ids in URLs: a positive integer the database can hold. Larger numbers are a 422, never a 500
(SQLite and PostgreSQL keep ids in signed 64-bit integers; binding a bigger one overflows)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1

DbId = Annotated[int, Path(ge=1, le=MAX_ID, description="编号 / id")]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
