"""The lexicon families: threats, false legal pressure, impersonation, third-party disclosure, insults, collateral
harm, fees and new debt, and the terms SMS platforms reject (催款/催收/追讨).

Each family is a structure over word classes (:mod:`dunning.compliance.wordclasses`, data in
``lexicon-classes.yaml``), not a phrase list: "再不还款将通知你的家人和单位" is a contact verb a few characters
before a third party, however it is worded. Rendered messages are screened over the whole frame with one Rust
regex built from the same classes; only the rows it cannot clear are checked one by one (negations, "我公司",
modals). A match inside a phrase the company exempts (``lexicon_exempt`` in the overlay) is not a finding.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dunning.compliance.findings import BLOCK, Finding, rules_of
from dunning.compliance.policy import Policy
from dunning.compliance.wordclasses import find, screen

NAME = "lexicon"
RULES = rules_of(NAME)
MESSAGES = {
    "lexicon.threat": ("含威胁或暴力暗示的用语「{w}」。", "threatening wording {w!r}"),
    "lexicon.legal_pressure": ("含不实法律压力用语「{w}」：后果只能作为合同事实陈述。",
                               "false legal pressure {w!r}: state consequences only as contract facts"),
    "lexicon.impersonation": ("含冒充公检法、律师或监管的用语「{w}」。", "impersonation wording {w!r}"),
    "lexicon.third_party": ("含向第三方曝光或联系亲友的用语「{w}」。", "third-party shaming {w!r}"),
    "lexicon.insult": ("含侮辱性用语「{w}」。", "insulting wording {w!r}"),
    "lexicon.collateral": ("含牵连家人、子女的用语「{w}」。", "collateral-harm wording {w!r}"),
    "lexicon.fee": ("含收费或借新还旧用语「{w}」。", "fee or new-debt wording {w!r}"),
    "lexicon.platform": ("含短信平台禁用词「{w}」：请改用“还款提醒”等说法。",
                         "{w!r} is rejected by SMS platforms: say 'repayment reminder'"),
}


def check(text: str, policy: Policy, penalty: float | None) -> list[Finding]:
    merged: list[list[Any]] = []  # overlapping matches of one family are one finding
    for start, end, rule in sorted(find(text, policy.lexicon), key=lambda m: (m[2], m[0], -m[1])):
        if merged and merged[-1][2] == rule and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, rule])
    out = []
    for start, end, rule in merged:
        zh, en = MESSAGES.get(rule, ("含禁用词「{w}」。", "forbidden word {w!r}"))
        out.append(Finding(rule, BLOCK, start, end, zh.format(w=text[start:end]), en.format(w=text[start:end])))
    return out


def screen_patterns(policy: Policy) -> list[str]:
    """The families' structures without their exceptions, for the shared one-pass screen (a superset of what
    :func:`check` finds: negations, self-references and modals are weighed there)."""
    pat = screen(policy.lexicon)
    return [pat] if pat else []


def trips(policy: Policy) -> pl.Expr:
    return pl.lit(False)  # everything this family finds matches screen_patterns()
