"""A finding: which rule, how severe, where in the text, and what to do about it (zh/en)."""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = "block"
WARN = "warn"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # block | warn
    start: int
    end: int
    message_zh: str
    message_en: str
