"""Lint quality on the labelled corpus (``tests/compliance/corpus/``): precision and recall per lexicon family
(target ≥ 0.95 each), the other blocking rules the corpus labels, and every confusion.

    .venv/bin/python bench/lint_quality.py

A positive is an item labelled to trip the family; a negative one labelled (or implied) not to. Precision =
TP / (TP + FP), recall = TP / (TP + FN). Prints each confusion (the item, what it missed or wrongly tripped) and
the lint time per item. No asserts: ``tests/compliance/test_corpus.py`` fails on any mislabel.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.compliance.corpus_eval import FAMILIES, items, mislabels, policy, predicted, scores


def main() -> None:
    p = policy()
    corpus = list(items())
    t0 = time.perf_counter()
    pairs = [(it, predicted(it, p)) for it in corpus]
    elapsed = time.perf_counter() - t0
    others = tuple(sorted({r for it in corpus for r in it.trips} - set(FAMILIES)))
    print(f"corpus: {len(corpus)} items ({sum(it.kind == 'template' for it in corpus)} templates) "
          f"from {len({it.source for it in corpus})} files · linted in {elapsed:.2f} s "
          f"({elapsed / len(corpus) * 1000:.2f} ms/item)")
    print(f"{'family':28} {'pos':>4} {'neg':>4} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>7}")
    worst = 1.0
    for fam, (tp, fp, fn, tn) in {**scores(pairs), **scores(pairs, others)}.items():
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        if fam in FAMILIES:
            worst = min(worst, prec, rec)
        print(f"{fam:28} {tp + fn:4d} {fp + tn:4d} {tp:4d} {fp:4d} {fn:4d} {prec:10.3f} {rec:7.3f}")
    print(f"lowest precision/recall over the lexicon families: {worst:.3f} (target ≥ 0.95)")
    confusions = [(it, *mislabels(it, got)) for it, got in pairs]
    confusions = [c for c in confusions if c[1] or c[2]]
    print(f"confusions: {len(confusions)}")
    for it, missed, wrong in confusions:
        print(f"  {it.source}: {it.text}\n    missed {sorted(missed)} · wrongly tripped {sorted(wrong)}")


if __name__ == "__main__":
    main()
