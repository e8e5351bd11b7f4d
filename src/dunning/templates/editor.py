"""The template editor's text helpers (no database): the ``name: type`` variables box, and a template's text cut
into runs that carry the most severe lint finding covering them (what the editor paints as the text is typed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dunning.errors import InputError


@dataclass
class Segment:
    text: str
    severity: str | None = None
    title: str = ""

    @property
    def finding(self) -> bool:
        return self.severity is not None


@dataclass
class TemplateCheck:
    """What the editor shows while a template is typed: findings highlighted in place, length, previews."""

    segments: list[Segment]
    findings: list[dict[str, Any]]
    chars: int
    parts: int
    previews: list[dict[str, Any]]
    error_zh: str | None = None
    error_en: str | None = None


_SEVERITY_RANK = {"info": 1, "warn": 2, "block": 3}


def parse_variables(text: str) -> dict[str, str]:
    """``name: type`` per line (blank lines and ``#`` comments ignored)."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, vtype = line.partition(":")
        if not sep or not name.strip() or not vtype.strip():
            raise InputError(f"变量第 {n} 行应为「名称: 类型」，例如 amount: money", f"variable line {n} must be "
                             "'name: type', e.g. amount: money", code="template.variables")
        out[name.strip()] = vtype.strip()
    return out


def format_variables(variables: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in variables.items())


def highlight(text: str, findings: list[dict[str, Any]]) -> list[Segment]:
    """Cut ``text`` into runs, each carrying the most severe finding that covers it (whole-text findings,
    e.g. a missing element, are listed but not painted over the text)."""
    sev: list[str | None] = [None] * len(text)
    titles: list[list[str]] = [[] for _ in text]
    for f in findings:
        start, end = max(0, int(f["start"])), min(len(text), int(f["end"]))
        if end <= start or (start == 0 and end >= len(text)):
            continue
        for i in range(start, end):
            if sev[i] is None or _SEVERITY_RANK.get(f["severity"], 0) > _SEVERITY_RANK.get(sev[i] or "", 0):
                sev[i] = f["severity"]
            titles[i].append(f"{f['rule']}: {f['message_zh']}")
    segs: list[Segment] = []
    for i, ch in enumerate(text):
        title = "；".join(titles[i])
        if segs and segs[-1].severity == sev[i] and segs[-1].title == title:
            segs[-1].text += ch
        else:
            segs.append(Segment(ch, sev[i], title))
    return segs
