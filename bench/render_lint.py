"""Render + lint benchmark: a million messages from six bundled templates, vectorised vs per row.

    .venv/bin/python bench/render_lint.py [--rows 1000000] [--baseline-rows N]

* ``polars``    ``dunning.templates.render_many`` (one Polars expression per template, evaluated on its own rows)
                then ``dunning.compliance.lint_messages`` over every rendered text (target: both ≤ 5 s);
* ``baseline``  the same work row by row: values formatted in Python, the text rendered with a Jinja2
                template, then the same checks with Python ``in`` tests over every word list, ``len`` for
                the parts and a regex for stated rates.

Both runs see the same accounts and the same six templates (pre_due_3, due_today, first_overdue, M1, M1_b,
M2). Prints wall and CPU seconds of each stage, the findings each run produced, and the ratio. No asserts: the
box is shared, so the load average is printed alongside. ``--baseline-rows`` runs the baseline on fewer rows and
scales its time linearly (said so in the output).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from datetime import date
from typing import Any

import jinja2
import numpy as np
import polars as pl

from dunning.compliance import Policy, lint_messages, load_policy
from dunning.domain.masking import mask_name
from dunning.domain.money import format_yuan
from dunning.templates import compile_template, format_rate, load_bundled_templates, render_many

TEMPLATES = ("pre_due_3", "due_today", "first_overdue", "M1", "M1_b", "M2")
IDENTITY = {"institution": "阳光消费金融", "signatures": ["阳光消费金融"], "hotlines": ["95000"],
            "domains": ["sunshine-cfc.example.cn"]}
CONTEXT = {"institution": "阳光消费金融", "signature": "阳光消费金融", "hotline": "95000", "app": "阳光消费金融App",
           "domain": "sunshine-cfc.example.cn"}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜")
ALPHABET = list("23456789ABCDEFGHJKMNPQRSTUVWXYZ")


def accounts(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    names = np.where(rng.random(n) < 0.02, "", np.char.add(sur, "某"))
    chars = np.array(ALPHABET)[rng.integers(0, len(ALPHABET), (6, n))]
    codes = chars[0]
    for row in chars[1:]:
        codes = np.char.add(codes, row)
    days = rng.integers(0, 365, n)
    return pl.DataFrame({
        "loan_id": np.char.add("L", np.char.zfill(np.arange(n).astype(str), 9)),
        "name": names,
        "amount_due_fen": rng.integers(10_000, 5_000_000, n),
        "due_date": pl.Series(days + (date(2026, 1, 1) - date(1970, 1, 1)).days, dtype=pl.Int32).cast(pl.Date),
        "penalty_rate": rng.choice(np.array([0.0005, 0.0003, 0.00055]), n),
        "dpd": rng.integers(1, 200, n).astype(np.int32),
        "verify_code": codes,
        "template": np.array(TEMPLATES)[np.arange(n) % len(TEMPLATES)],
    }).with_columns(pl.col("name").replace("", None))


def timed(fn: Any) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


# ------------------------------------------------------------------------------------------------ baseline


def jinja_source(text: str) -> str:
    return "{{ signature_prefix }}" + re.sub(r"\$\{(\w+)\}", r"{{ \1 }}", text)


def baseline(frame: pl.DataFrame, policy: Policy) -> tuple[list[str], int, dict[str, int]]:
    """Per row: format values in Python, render with Jinja2, check with `in` tests."""
    env = jinja2.Environment(autoescape=False)
    specs = {s.id: s for s in load_bundled_templates()}
    jt = {k: env.from_string(jinja_source(specs[k].text)) for k in TEMPLATES}
    words = [(w, rule) for rule, ws in policy.lexicons.items() for w in ws]
    words += [(w, "content.qr_code") for w in policy.qr_words] + [(w, "content.im_contact") for w in policy.im_words]
    words += [(w, "content.symbol") for w in policy.unsupported_symbols]
    words += [(w, "optout.forbidden") for w in policy.optout_words]
    personal = policy.personal_account_words
    rate_re = re.compile(r"(每日|每天|日)[^0-9，。]{0,10}?(\d+(?:\.\d+)?)\s*%")
    sig = f"【{policy.signatures[0]}】"
    texts: list[str] = []
    counts: dict[str, int] = {}
    found = 0
    for row in frame.iter_rows(named=True):
        d: date = row["due_date"]
        values = {
            "signature_prefix": sig, "name": mask_name(row["name"]), "last4": row["loan_id"][-4:],
            "amount": format_yuan(row["amount_due_fen"]), "due_date": f"{d.month}月{d.day}日", "dpd": str(row["dpd"]),
            "penalty_rate": format_rate(row["penalty_rate"]), "app": CONTEXT["app"], "hotline": CONTEXT["hotline"],
            "verify_code": row["verify_code"],
        }
        text = jt[row["template"]].render(**values)
        texts.append(text)
        hits = [rule for w, rule in words if w in text]
        if not text.startswith(sig):
            hits.append("signature.unregistered")
        if "元" not in text:
            hits.append("required.amount")
        if "月" not in text and "逾期" not in text:
            hits.append("required.due")
        if not any(h in text for h in policy.hotlines):
            hits.append("required.contact")
        if "http" in text or "www." in text:
            hits.append("content.link")
        if any(p in text for p in personal) and "不会要求" not in text:
            hits.append("content.personal_account")
        if "!" in text or "！" in text:
            hits.append("tone.exclamation")
        n = len(text)
        if n > 134:
            hits.append("length.segments")
        m = rate_re.search(text)
        if m and abs(float(m.group(2)) / 100 - row["penalty_rate"]) > 5e-7:
            hits.append("penalty.excessive")
        for h in hits:
            counts[h] = counts.get(h, 0) + 1
        found += len(hits)
    return texts, found, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=None, help="rows for the per-row run (default: --rows)")
    args = ap.parse_args()
    n = args.rows
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} · cores {os.cpu_count()} · "
          f"polars {pl.__version__} · threads {pl.thread_pool_size()}")
    frame, wall, _cpu = timed(lambda: accounts(n))
    print(f"accounts: {n:,} rows, {len(TEMPLATES)} templates ({', '.join(TEMPLATES)}) — built in {wall:.2f} s")

    policy = load_policy("CN", IDENTITY)
    specs = {s.id: s for s in load_bundled_templates()}
    compiled = {k: compile_template(specs[k].text, specs[k].variables) for k in TEMPLATES}

    texts, r_wall, r_cpu = timed(lambda: render_many(frame, compiled, CONTEXT))
    to_lint = frame.select("penalty_rate").with_columns(texts.alias("text"))
    findings, l_wall, l_cpu = timed(lambda: lint_messages(to_lint, policy))
    total = r_wall + l_wall
    mb = texts.str.len_bytes().sum() / 1e6
    print(f"\npolars   render {r_wall:6.2f} s wall ({r_cpu:6.2f} s CPU) · {mb:,.0f} MB of text, "
          f"mean {texts.str.len_chars().mean():.1f} characters")
    print(f"polars   lint   {l_wall:6.2f} s wall ({l_cpu:6.2f} s CPU) · {findings.height:,} findings "
          + str({f"{r}/{sv}": k for r, sv, k in findings.group_by("rule", "severity").len().sort("rule").iter_rows()})
          .replace("'", ""))
    print(f"polars   total  {total:6.2f} s wall  → {n / total:,.0f} messages/s   (target ≤ 5 s)")
    print(f"sample: {texts[3]}")

    bn = min(args.baseline_rows or n, n)
    sub = frame.head(bn)
    (b_texts, b_found, b_counts), b_wall, b_cpu = timed(lambda: baseline(sub, policy))
    scale = n / bn
    print(f"\nbaseline (Jinja2 + Python `in`) {bn:,} rows: {b_wall:6.2f} s wall ({b_cpu:6.2f} s CPU) · {b_found:,} "
          f"findings {dict(sorted(b_counts.items()))}".replace("'", ""))
    if scale != 1:
        print(f"baseline scaled to {n:,} rows: {b_wall * scale:6.2f} s (linear)")
    same = sum(1 for a, b in zip(b_texts, texts.head(bn).to_list(), strict=True) if a == b)
    print(f"identical texts: {same:,} of {bn:,}")
    print(f"\nratio baseline / polars: {b_wall * scale / total:.1f}×   "
          f"(load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
