"""One module per rule family. Each exposes:

* ``NAME`` and ``RULES`` — ``{rule_id: (severity, description_zh, description_en)}``, the family's part of the
  catalogue ``data/policy/rules.yaml``;
* ``check(text, policy, penalty) -> list[Finding]`` — the exact findings on one full text (spans in characters);
* ``trips(policy) -> pl.Expr`` — over the columns ``text`` and ``_penalty``, true for every message on which
  ``check`` could find something (a screen: messages it clears are never looked at one by one);
* optionally ``refine(rows, policy)`` — a finer vectorised screen over the tripped rows;
* optionally ``findings_frame(rows, policy)`` — the findings of the tripped rows computed for the whole frame.
"""

from __future__ import annotations

from types import ModuleType

from dunning.compliance.rules import content, length, lexicon, optout, penalty, required, signature, tone

FAMILIES: tuple[ModuleType, ...] = (signature, required, lexicon, content, length, penalty, optout, tone)
RULES: dict[str, tuple[str, str, str]] = {rule: meta for fam in FAMILIES for rule, meta in fam.RULES.items()}
