"""One module per rule family. Each exposes ``check(text, policy, penalty)`` → findings with spans, and
``trips(policy)`` → a Polars expression over the column ``text`` (and ``_penalty``) that is true for every
message on which ``check`` could find something. Messages the expressions clear are never looked at one by one.
"""

from __future__ import annotations

from dunning.compliance.rules import content, length, lexicon, optout, penalty, required, signature, tone

FAMILIES = (signature, required, lexicon, content, length, penalty, optout, tone)
