"""Portfolio intake benchmark: a million dirty rows, read to accepted + rejected, and persisted.

    .venv/bin/python bench/intake.py [--rows 1000000] [--encoding utf-8-sig|gbk] [--dir DIR] [--skip-pandas]

Generates a CSV with realistic dirt (``dunning.testing.generate_portfolio`` plus full-width digits, thousands
separators, times after dates, blank names, a do-not-contact list in mixed spellings), then measures, each in
its own process so peak RSS belongs to that stage alone:

* ``read``     ``read_portfolio``: read, map columns, normalise, validate, dedupe, do-not-contact, split
               (target ≤ 4 s), then the reject report (CSV + XLSX) on its own;
* ``service``  ``dunning.services.intake.imports.import_portfolio`` into a fresh SQLite database: the whole import
               as the CLI runs it, persistence and reject report included (target ≤ 15 s);
* ``pandas``   a plain ``pandas.read_csv`` and a per-row Python validation loop with the same rules, for
               comparison.

Prints wall and CPU seconds, peak RSS (target ≤ 3 GB) and the pandas/Polars ratio. No asserts: the box is
shared, so the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

AS_OF = date(2026, 11, 23)
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# ------------------------------------------------------------------------------------------------- data


def generate(rows: int, path: Path, dnc_path: Path, encoding: str, seed: int = 2026) -> None:
    """Write ``rows`` data rows (duplicates included) and a do-not-contact list; vectorised throughout."""
    from dunning.testing import generate_portfolio

    # generate_portfolio appends 0.6 % duplicate rows; pick n so the file has exactly ``rows`` rows.
    n = int(rows / 1.006)
    while n + int(n * 0.004) + int(n * 0.002) < rows:
        n += 1
    df = generate_portfolio(n, seed=seed, as_of=AS_OF)
    df = df.head(rows)
    rng = np.random.default_rng(seed + 1)
    u = pl.Series(rng.random(df.height))
    phone, amount, due, name = "手机号", "应还金额", "到期日", "姓名"
    df = df.with_columns(
        pl.when(pl.lit(u) < 0.01)
        .then(pl.col(phone).str.replace_many(list("0123456789"), list("０１２３４５６７８９")))
        .otherwise(pl.col(phone)).alias(phone),
        pl.when((pl.lit(u) >= 0.01) & (pl.lit(u) < 0.03) & pl.col(amount).str.contains(r"^[0-9]{4,}\.?"))
        .then(pl.col(amount).str.replace(r"^([0-9]+?)([0-9]{3})(\.|$)", "$1,$2$3"))
        .otherwise(pl.col(amount)).alias(amount),
        pl.when((pl.lit(u) >= 0.03) & (pl.lit(u) < 0.04)).then(pl.col(due) + " 00:00:00")
        .otherwise(pl.col(due)).alias(due),
        pl.when((pl.lit(u) >= 0.04) & (pl.lit(u) < 0.045)).then(pl.lit("")).otherwise(pl.col(name)).alias(name),
    )
    if encoding == "gbk":
        path.write_bytes(df.write_csv().encode("gbk"))
    else:
        with path.open("wb") as fh:
            fh.write(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8"
            df.write_csv(fh)
    # 1,000 numbers from the portfolio, spelled the ways a complaints desk writes them.
    picks = df.filter(pl.col(phone).str.contains(r"^1[3-9][0-9]{9}$")).sample(1000, seed=seed)[phone]
    styles = [lambda p: p, lambda p: f"+86 {p[:3]} {p[3:7]} {p[7:]}", lambda p: f"{p[:3]}-{p[3:7]}-{p[7:]}",
              lambda p: p.translate(FULLWIDTH)]
    lines = ["# 投诉/争议/已故/诉讼 do-not-contact"] + [styles[i % 4](p) for i, p in enumerate(picks.to_list())]
    dnc_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------------- stages


def _usage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024}


def stage_read(csv_path: Path, dnc: Path, workdir: Path) -> dict[str, Any]:
    from dunning.intake import read_portfolio, write_reject_report

    before = _usage()
    t0 = time.perf_counter()
    result = read_portfolio([csv_path], as_of=AS_OF, exclude=[dnc])
    wall = time.perf_counter() - t0
    cpu = _usage()["cpu"] - before["cpu"]
    t1 = time.perf_counter()
    write_reject_report(result.rejected, workdir / "bench-rejects")
    report = time.perf_counter() - t1
    return {"wall": wall, "cpu": cpu, "report": report, "rss_mb": _usage()["rss_mb"], "rows": result.rows,
            "accepted": result.accepted.height, "rejected": result.rejected.height, "reasons": result.reasons}


def stage_service(csv_path: Path, dnc: Path, workdir: Path) -> dict[str, Any]:
    from dunning.config import Settings
    from dunning.services.context import build_context
    from dunning.services.intake.imports import import_portfolio

    settings = Settings(data_dir=workdir / f"svc-{os.getpid()}", secret_key="bench-secret",  # type: ignore[arg-type]
                        database_url=os.environ.get("DUNNING_BENCH_DB") or None)
    t_setup = time.perf_counter()
    ctx = build_context(settings)
    setup = time.perf_counter() - t_setup
    before = _usage()
    t0 = time.perf_counter()
    summary = import_portfolio(ctx, [csv_path], as_of=AS_OF, exclude=[dnc], actor="bench")
    wall = time.perf_counter() - t0
    cpu = _usage()["cpu"] - before["cpu"]
    ctx.db.dispose()
    return {"wall": wall, "cpu": cpu, "setup": setup, "rss_mb": _usage()["rss_mb"], "rows": summary.rows,
            "accepted": summary.accepted, "rejected": summary.rejected, "database": str(settings.data_dir)}


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _db import add_database_arg, backend, print_figures, throwaway_database  # noqa: E402

_SEP = re.compile(r"[\s\-_.()\[\]（）]")
_MOBILE = re.compile(r"^(?:\+86|0086|86|0)?(1[3-9]\d{9})$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S")


def stage_pandas(csv_path: Path, dnc: Path, workdir: Path) -> dict[str, Any]:
    """What intake looks like without vectorisation: pandas to read, then a Python loop per row."""
    import pandas as pd

    from dunning.intake.parsers import classify_phone

    before = _usage()
    t0 = time.perf_counter()
    with csv_path.open("rb") as fh:
        encoding = "utf-8-sig" if fh.read(3) == b"\xef\xbb\xbf" else "gb18030"
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding=encoding)
    read = time.perf_counter() - t0
    fw = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")

    def phone_of(text: str) -> tuple[str | None, str | None]:
        digits = _SEP.sub("", text.translate(fw).strip())
        m = _MOBILE.match(digits)
        if m:
            return "+86" + m.group(1), None
        return classify_phone(digits, allow_international=False)  # the pipeline's rule for what the regex leaves

    blocked = set()
    for line in dnc.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            p, _ = phone_of(line)
            if p:
                blocked.add(p)
    accepted: list[tuple[Any, ...]] = []
    rejected: list[tuple[int, str]] = []
    seen: dict[str, tuple[Any, ...]] = {}
    for i, (loan, name, phone, amount, due, rate, count, product, payday, region) in enumerate(
        frame.itertuples(index=False, name=None), start=2
    ):
        if not (loan.strip() and phone.strip() and amount.strip() and due.strip()):
            rejected.append((i, "missing_field"))
            continue
        e164, why = phone_of(phone)
        if why:
            rejected.append((i, why))
            continue
        try:
            yuan = Decimal(re.sub(r"[¥￥,元\s]", "", amount))
        except InvalidOperation:
            rejected.append((i, "invalid_amount"))
            continue
        if yuan < 0:
            rejected.append((i, "invalid_amount"))
            continue
        if yuan == 0:
            rejected.append((i, "nothing_due"))
            continue
        due_date = None
        for fmt in _DATE_FORMATS:
            try:
                due_date = datetime.strptime(due.strip(), fmt).date()
                break
            except ValueError:
                continue
        if due_date is None:
            rejected.append((i, "invalid_date"))
            continue
        r = rate.strip()
        daily = float(r[:-1]) / 100 if r.endswith("%") else float(r or 0)
        content = (name.strip(), e164, int(yuan * 100), due_date, daily, count, product, payday, region)
        if loan in seen:
            rejected.append((i, "duplicate" if seen[loan] == content else "conflicting_duplicate"))
            continue
        seen[loan] = content
        if e164 in blocked:
            rejected.append((i, "do_not_contact"))
            continue
        accepted.append((i, loan, *content, (AS_OF - due_date).days))
    wall = time.perf_counter() - t0
    cpu = _usage()["cpu"] - before["cpu"]
    return {"wall": wall, "read": read, "cpu": cpu, "rss_mb": _usage()["rss_mb"], "rows": len(frame),
            "accepted": len(accepted), "rejected": len(rejected)}


STAGES = {"read": stage_read, "service": stage_service, "pandas": stage_pandas}


def run_stage(name: str, csv_path: Path, dnc: Path, workdir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--dir", str(workdir), str(csv_path), str(dnc)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encoding", choices=["utf-8-sig", "gbk"], default="utf-8-sig")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--stage", choices=sorted(STAGES))
    parser.add_argument("files", nargs="*", type=Path)
    add_database_arg(parser)
    args = parser.parse_args()
    if args.stage:  # child process: one measurement, one JSON line
        print(json.dumps(STAGES[args.stage](args.files[0], args.files[1], args.dir), default=str))
        return

    workdir = args.dir or Path(tempfile.mkdtemp(prefix="dunning-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path, dnc = workdir / f"portfolio-{args.rows}.csv", workdir / "dnc.txt"
    t0 = time.perf_counter()
    generate(args.rows, csv_path, dnc, args.encoding)
    print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB, {args.encoding}) "
          f"in {time.perf_counter() - t0:.1f} s -> {csv_path}")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"polars {pl.__version__}")

    read = run_stage("read", csv_path, dnc, workdir)
    print(f"\nread_portfolio (read+normalise+validate+dedupe+DNC): {read['wall']:.2f} s wall, {read['cpu']:.2f} s CPU,"
          f" peak RSS {read['rss_mb']:.0f} MB   [targets: <= 4 s, <= 3072 MB]")
    print(f"  rows {read['rows']:,}  accepted {read['accepted']:,}  rejected {read['rejected']:,}")
    print(f"  reasons {read['reasons']}")
    print(f"  reject report (CSV + XLSX, {read['rejected']:,} rows): {read['report']:.2f} s")

    with throwaway_database(args.database_url, workdir, "intake") as db:
        os.environ["DUNNING_BENCH_DB"] = db or ""  # the service stage's child process opens this database
        svc = run_stage("service", csv_path, dnc, workdir)
    print(f"\nimport_portfolio end to end (read .. persist to {backend(args.database_url)}, reject report, audit): {svc['wall']:.2f} s wall,"
          f" {svc['cpu']:.2f} s CPU, peak RSS {svc['rss_mb']:.0f} MB   [targets: <= 15 s, <= 3072 MB]")
    print(f"  accepted {svc['accepted']:,}  rejected {svc['rejected']:,}  (database setup {svc['setup']:.2f} s, "
          f"not counted)")

    if not args.skip_pandas:
        pd_ = run_stage("pandas", csv_path, dnc, workdir)
        print(f"\npandas read_csv + per-row Python loop: {pd_['wall']:.2f} s wall (read {pd_['read']:.2f} s), "
              f"{pd_['cpu']:.2f} s CPU, peak RSS {pd_['rss_mb']:.0f} MB")
        print(f"  accepted {pd_['accepted']:,}  rejected {pd_['rejected']:,}")
        print(f"\nratio pandas loop / read_portfolio: {pd_['wall'] / read['wall']:.1f}x wall, "
              f"{pd_['cpu'] / read['cpu']:.1f}x CPU")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print_figures("intake", args.database_url, {"import_s": round(svc["wall"], 2), "rows": args.rows})


if __name__ == "__main__":
    main()
