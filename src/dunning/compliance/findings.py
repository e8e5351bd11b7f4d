"""A finding: which rule, how severe, where in the text, and what to do about it (zh/en); and the catalogue of
rules (``data/policy/rules.yaml``): :func:`rules_of` gives a family's ``{rule_id: (severity, zh, en)}``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

import yaml

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


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, list[str]]]:
    text = resources.files("dunning.data.policy").joinpath("rules.yaml").read_text(encoding="utf-8")
    catalogue: dict[str, dict[str, list[str]]] = yaml.safe_load(text)
    return catalogue


def rules_of(family: str) -> dict[str, tuple[str, str, str]]:
    """The rules of one family (``content``, ``template``...) as ``{"family.rule": (severity, zh, en)}``, in the
    catalogue's order."""
    return {f"{family}.{rule}": (severity, zh, en) for rule, (severity, zh, en) in _catalogue()[family].items()}
