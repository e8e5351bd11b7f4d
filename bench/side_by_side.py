"""Run the database-bound benchmarks on SQLite and on PostgreSQL and print their figures side by side (#23).

    .venv/bin/python bench/side_by_side.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--quick]

Each benchmark runs twice in a process of its own, once with ``--database-url sqlite`` and once with the
PostgreSQL server URL (a throwaway database each run, see ``bench/_db.py``); the last line each prints,
``FIGURES {json}``, is collected into one table with the targets of issue #23.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _db import LOCAL_PG  # noqa: E402

# (benchmark, its arguments, [(figure key, label, unit, PostgreSQL target)])
RUNS: list[tuple[str, list[str], list[tuple[str, str, str, str]]]] = [
    ("intake.py", ["--skip-pandas"], [("import_s", "import 1,000,000 rows", "s", "≤ 10 s")]),
    ("plan.py", [], [("plan_s", "plan 1,000,000 accounts", "s", "≤ 12 s")]),
    ("dispatch.py", ["--smpp", "0", "--naive", "0", "--rate-seconds", "0"],
     [("sandbox_msg_s", "dispatch, sandbox, receipts recorded", "msg/s", "≥ 20,000/s")]),
    ("outcomes.py", ["--skip-compute"],
     [("frames_s", "outcome frames, 200,000 messages", "s", "—"),
      ("report_s", "outcome report (HTML + XLSX)", "s", "—")]),
    ("cases.py", [], [("open_s", "cases from 100,000 replies", "s", "—"),
                      ("again_s", "the same replies again (all open)", "s", "—"),
                      ("overdue_s", "overdue queue of the book", "s", "—")]),
    ("throttle.py", [], [("throttled_pct", "SMSC throttling, % of accepted", "%", "≤ 5 %"),
                         ("busiest_200", "rate 200: busiest 1-s window", "PDUs", "≤ 200"),
                         ("duplicates", "throttle: duplicates", "", "0")]),
    ("crash.py", [], [("held_max", "kill -9 ×3: most held for a person", "", "≤ 200"),
                      ("duplicates", "kill -9 ×3: duplicates", "", "0"),
                      ("missing", "kill -9 ×3: missing", "", "0")]),
]
QUICK = {"intake.py": ["--rows", "100000"], "plan.py": ["--accounts", "100000"], "dispatch.py": ["--sandbox", "20000"],
         "outcomes.py": ["--db-rows", "20000"], "cases.py": ["--replies", "10000"],
         "throttle.py": ["--messages", "1000", "--rate-messages", "300"], "crash.py": ["--messages", "2000"]}


def _run(script: str, args: list[str], url: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--database-url", url],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:  # a failed promise (crash.py exits 1) still prints its figures
        sys.stdout.write(proc.stderr[-3000:])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FIGURES ")]
    return json.loads(lines[-1][len("FIGURES "):]) if lines else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=LOCAL_PG, help="the PostgreSQL server to create throwaway databases on")
    ap.add_argument("--quick", action="store_true", help="a tenth of the sizes (a smoke run, not the figures)")
    args = ap.parse_args()
    rows: list[tuple[str, str, str, str]] = []
    for script, extra, keys in RUNS:
        extra = [*extra, *(QUICK.get(script, []) if args.quick else [])]
        print(f"=== {script} {' '.join(extra)}", flush=True)
        lite, pg = _run(script, extra, "sqlite"), _run(script, extra, args.pg)
        for key, label, unit, target in keys:
            def show(f: dict[str, Any], key: str = key, unit: str = unit) -> str:
                v = f.get(key)
                if v is None:
                    return "—"
                return f"{v:,.2f} {unit}".strip() if unit in ("s", "%") else f"{v:,.0f} {unit}".strip()
            rows.append((label, show(lite), show(pg), target))
    print()
    w = max(len(r[0]) for r in rows)
    if args.quick:
        print("--quick: smaller sizes than the labels say (a smoke run; the targets apply to full runs)")
    print(f"{'stage':<{w}}  {'SQLite':>16}  {'PostgreSQL':>16}  target (PostgreSQL)")
    for label, lite_v, pg_v, target in rows:
        print(f"{label:<{w}}  {lite_v:>16}  {pg_v:>16}  {target}")
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
