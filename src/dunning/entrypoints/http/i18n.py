"""Chinese first, English by a switch: page strings are written in Chinese and looked up here for English.

``_("批次")`` renders 批次 in Chinese and "Campaigns" in English. A string without an English entry shows in
Chinese (never blank); ``tests/web/test_i18n.py`` fails on any page string or label missing from
``data/i18n/en.json`` (the English, kept as data in sections).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import Request

from dunning.entrypoints.http.security import LANG_COOKIE


def _load_english() -> dict[str, str]:
    """``data/i18n/en.json``: Chinese → English, in sections (layout, roles, …, agency pages, field visits)."""
    text = resources.files("dunning.data").joinpath("i18n/en.json").read_text(encoding="utf-8")
    sections: dict[str, dict[str, str]] = json.loads(text)
    return {zh: en for table in sections.values() for zh, en in table.items()}


EN: dict[str, str] = _load_english()


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def pick(request: Request, zh: str, en: str) -> str:
    return en if lang_of(request) == "en" else zh


def translator(lang: str) -> Callable[..., str]:
    def _(text: str, **kw: Any) -> str:
        out = EN.get(text, text) if lang == "en" else text
        return out.format(**kw) if kw else out

    return _
