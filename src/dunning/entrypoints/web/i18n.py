"""Chinese first, English by a switch: page strings are written in Chinese and looked up here for English.

``_("批次")`` renders 批次 in Chinese and "Campaigns" in English. A string without an English entry shows in
Chinese (never blank); ``tests/web/test_i18n.py`` fails on any page string missing here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EN: dict[str, str] = {}


def translator(lang: str) -> Callable[..., str]:
    def _(text: str, **kw: Any) -> str:
        out = EN.get(text, text) if lang == "en" else text
        return out.format(**kw) if kw else out

    return _
