"""The database a benchmark runs on: ``--database-url`` (issue #23), a throwaway database each run.

* no ``--database-url`` (or ``sqlite``): an embedded SQLite file in the run's work directory, as the default
  install uses;
* a PostgreSQL server URL (``postgresql+psycopg://user@host:port/anydb``): a fresh database
  ``dunning_bench_<random>`` is created on that server for the run and dropped afterwards (the database named in
  the URL is only used to connect for CREATE/DROP DATABASE).

Every benchmark prints one last line ``FIGURES {json}`` with its headline figures, which ``bench/side_by_side.py``
(``make bench``) collects to print SQLite and PostgreSQL next to each other.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def add_database_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--database-url", default=None,
                    help="sqlite (default: a file in the work directory) or a PostgreSQL server URL, on which a "
                         f"throwaway database is created and dropped (e.g. {LOCAL_PG})")


def backend(url: str | None) -> str:
    return "PostgreSQL" if url and url.startswith("postgresql") else "SQLite"


@contextmanager
def throwaway_database(url: str | None, workdir: Path, name: str = "bench") -> Iterator[str | None]:
    """Yield the database URL to give ``Settings(database_url=…)``: None for the embedded SQLite of the data
    directory, a fresh ``sqlite:///`` file when asked for one, or a new PostgreSQL database dropped afterwards."""
    if not url:
        yield None
        return
    if url == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.db'}"
        return
    if not url.startswith("postgresql"):
        raise SystemExit(f"--database-url: sqlite or postgresql+psycopg://…, not {url!r}")
    import psycopg

    server = make_url(url)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    db = f"dunning_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield server.set(database=db).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def print_figures(bench: str, url: str | None, figures: dict[str, Any]) -> None:
    """The headline figures as one machine-readable line (for bench/side_by_side.py)."""
    print("FIGURES " + json.dumps({"bench": bench, "backend": backend(url), **figures}, ensure_ascii=False))
