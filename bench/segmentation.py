"""Segmentation benchmark: the SMPP adapter's per-message encoding and planning's vectorised part count.

    .venv/bin/python bench/segmentation.py [--messages 20000] [--rows 1000000] [--risky 0.01]

* ``segment_text``  microseconds per message for typical texts (Chinese one and two parts, a US reminder, a US
                    text with GSM extension characters over two parts), as the adapter calls it per submit;
* ``parts_expr``    seconds for ``rows`` texts counted with the ``intl`` counting (``length_expr``); a share
                    ``--risky`` of them are multi-part texts with an emoji, the only rows counted in Python
                    (a 2-unit character may move a part boundary).

Prints wall seconds and the load average (the box is shared); asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
import timeit

import polars as pl

from dunning.channels.smpp import codec as P
from dunning.domain.sms import parts_expr

TEXTS = {
    "cn, 1 part": "【阳光消费金融】您的借款已逾期，请及时还款。",
    "cn, 2 parts": "【阳光消费金融】" + "您的借款已逾期，请及时还款。" * 6,
    "us, 1 part": "Sunshine Finance: your payment of $1,234.50 is due on 8/31. Reply STOP to stop.",
    "us, extension chars, 3 parts": "Pay $12 {ref} " * 20,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--risky", type=float, default=0.01)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, text in TEXTS.items():
        per = timeit.timeit(lambda t=text: P.segment_text(t, 1), number=a.messages) / a.messages
        print(f"segment_text  {label:<30} {per * 1e6:8.2f} µs/message")
    n_risky = int(a.rows * a.risky)
    plain = ["【阳光消费金融】您的借款已逾期，请及时还款。" * 3, "Pay $12 {ref}",
             "Sunshine Finance: your payment of $1,234.50 is due on 8/31. Reply STOP to stop."]
    texts = [plain[i % 3] for i in range(a.rows - n_risky)] + ["您" * 66 + "😀" + "好" * 66] * n_risky
    df = pl.DataFrame({"t": texts})
    t0 = time.perf_counter()
    total = df.select(parts_expr("t", "intl")).to_series().sum()
    print(f"parts_expr    {a.rows:,} rows ({n_risky:,} multi-part with an emoji): "
          f"{time.perf_counter() - t0:.2f} s wall, {total:,} parts")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
