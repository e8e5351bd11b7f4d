"""The labelled lint corpus (``tests/compliance/corpus/*.yaml``) and its scoring, shared by the corpus test and
``bench/lint_quality.py``.

An item is a message (``text``; linted signed 【阳光消费金融】 unless it begins with its own 【…】 or says
``bare: true``; ``penalty``: the contract's daily rate), a template (``template`` + ``variables``), or a bundled
template (``bundled: <id>``). ``trips``: the rules it must trip (a blocking finding); ``must_not``: rules it must
not trip; every lexicon family not in ``trips`` is implied in ``must_not`` (labels are complete for them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dunning.compliance import BLOCK, Policy, lint_template, lint_text, load_policy
from dunning.compliance.rules.lexicon import RULES as LEXICON_RULES

CORPUS = Path(__file__).parent / "corpus"
FAMILIES = tuple(sorted(LEXICON_RULES))
IDENTITY = {"institution": "阳光消费金融", "signatures": ["阳光消费金融"], "hotlines": ["95000"],
            "domains": ["sunshine-cfc.example.cn"]}
SIGNATURE = "阳光消费金融"


@dataclass(frozen=True)
class Item:
    source: str
    kind: str  # message | template
    text: str
    variables: dict[str, str]
    penalty: float | None
    trips: frozenset[str]
    must_not: frozenset[str]


def policy() -> Policy:
    return load_policy("CN", IDENTITY)


def items() -> Iterator[Item]:
    from dunning.templates import load_bundled_templates

    bundled = {t.id: t for t in load_bundled_templates()}
    for path in sorted(CORPUS.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            yield _item(path.name, raw, bundled)


def _item(source: str, raw: dict[str, Any], bundled: dict[str, Any]) -> Item:
    trips = frozenset(raw.get("trips") or [])
    must_not = frozenset(raw.get("must_not") or []) | (frozenset(FAMILIES) - trips)
    if "bundled" in raw:
        spec = bundled[str(raw["bundled"])]
        return Item(source, "template", spec.text, dict(spec.variables), None, trips, must_not)
    if "template" in raw:
        return Item(source, "template", str(raw["template"]), {str(k): str(v) for k, v in raw["variables"].items()},
                    None, trips, must_not)
    text = str(raw["text"])
    if not raw.get("bare") and not text.startswith("【"):
        text = f"【{SIGNATURE}】{text}"
    pen = raw.get("penalty")
    return Item(source, "message", text, {}, None if pen is None else float(pen), trips, must_not)


def predicted(item: Item, p: Policy) -> set[str]:
    """The rules with a blocking finding on the item."""
    if item.kind == "template":
        found = lint_template(item.text, item.variables, p)
    else:
        found = lint_text(item.text, p, item.penalty)
    return {f.rule for f in found if f.severity == BLOCK}


def mislabels(item: Item, got: set[str]) -> tuple[set[str], set[str]]:
    """(missed: must trip but did not, wrong: must not trip but did)."""
    return set(item.trips - got), set(item.must_not & got)


def scores(pairs: list[tuple[Item, set[str]]], families: tuple[str, ...] = FAMILIES
           ) -> dict[str, tuple[int, int, int, int]]:
    """Per family: ``(true positives, false positives, false negatives, true negatives)``."""
    out = {}
    for fam in families:
        tp = sum(1 for it, got in pairs if fam in it.trips and fam in got)
        fn = sum(1 for it, got in pairs if fam in it.trips and fam not in got)
        fp = sum(1 for it, got in pairs if fam in it.must_not and fam in got)
        tn = sum(1 for it, got in pairs if fam in it.must_not and fam not in got)
        out[fam] = (tp, fp, fn, tn)
    return out
