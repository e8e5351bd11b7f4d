"""A finding: which rule, how severe, where in the text, and what to do about it (zh/en)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

BLOCK = "block"
WARN = "warn"
SEVERITIES = (BLOCK, WARN)


@dataclass(frozen=True)
class Finding:
    """``start``/``end`` are character offsets (Python string indices) into the text that was linted; a finding
    about the whole text (something missing) spans all of it."""

    rule: str
    severity: str  # block | warn
    start: int
    end: int
    message_zh: str
    message_en: str

    @property
    def blocks(self) -> bool:
        return self.severity == BLOCK

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
