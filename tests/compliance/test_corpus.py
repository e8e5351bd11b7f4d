"""The labelled corpus (``tests/compliance/corpus/``): every item trips the rules it must and none it must not,
one text at a time and vectorised over the whole frame alike."""

from __future__ import annotations

import polars as pl

from dunning.compliance import BLOCK, lint_messages

from .corpus_eval import FAMILIES, items, mislabels, policy, predicted


def test_the_corpus_is_large_and_covers_every_family_both_ways() -> None:
    corpus = list(items())
    assert len(corpus) >= 300
    for fam in FAMILIES:
        assert sum(fam in it.trips for it in corpus) >= 5, fam  # paraphrases of the family
    assert sum(not (it.trips & set(FAMILIES)) for it in corpus) >= 100  # safe texts (sharing the families' words)
    assert sum(it.kind == "template" for it in corpus) >= 9  # the bundled templates, at least


def test_no_item_is_mislabelled() -> None:
    p = policy()
    wrong = []
    for it in items():
        missed, extra = mislabels(it, predicted(it, p))
        if missed or extra:
            wrong.append(f"{it.source}: {it.text} — missed {sorted(missed)}, wrongly tripped {sorted(extra)}")
    assert not wrong, "\n".join(wrong)


def test_the_vectorised_lint_agrees_with_the_one_by_one_lint() -> None:
    p = policy()
    msgs = [it for it in items() if it.kind == "message"]
    frame = pl.DataFrame({"text": [it.text for it in msgs], "penalty_rate": [it.penalty for it in msgs]},
                         schema={"text": pl.Utf8, "penalty_rate": pl.Float64})
    found = lint_messages(frame, p).filter(pl.col("severity") == BLOCK)
    by_row: dict[int, set[str]] = {}
    for row, rule in found.select("row", "rule").iter_rows():
        by_row.setdefault(row, set()).add(rule)
    for i, it in enumerate(msgs):
        assert by_row.get(i, set()) == predicted(it, p), it.text
