"""The ``${var}`` placeholder language as the lint sees it: which names and types exist, how wide each value can
be, the problems that make a template invalid, and the widest rendering with the origin of every character.

It lives here (not in :mod:`dunning.templates`) because the compliance layer sits below templates: templates
compile and render with these definitions; compliance lints a template text without importing templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

VAR_TYPES = ("money", "date", "masked_name", "last4", "integer", "text", "rate")
TYPE_VARIANTS = {"date:iso": "date"}  # a variant renders differently but checks as its base type
CONTEXT_VARS = ("institution", "hotline", "app", "signature", "domain")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# variable name → source column of the accounts frame
BINDINGS: dict[str, str] = {
    "name": "name", "amount": "amount_due_fen", "amount_due": "amount_due_fen", "due_date": "due_date",
    "dpd": "dpd", "days_overdue": "dpd", "days_to_due": "dpd", "last4": "loan_id", "penalty_rate": "penalty_rate",
    "product": "product", "verify_code": "verify_code", "agency": "agency",
    # the visit notice (a scope column of its campaign, filled by the visits service): staff names, the
    # registration number, the visit's local date and time
    "staff": "staff", "reg_no": "reg_no", "visit_date": "visit_date",
}
# variable name → the types it may be declared with (a name bound to money cannot be rendered as text, etc.)
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "name": frozenset({"masked_name"}),
    "amount": frozenset({"money"}), "amount_due": frozenset({"money"}),
    "due_date": frozenset({"date"}),
    "dpd": frozenset({"integer"}), "days_overdue": frozenset({"integer"}), "days_to_due": frozenset({"integer"}),
    "last4": frozenset({"last4"}),
    "penalty_rate": frozenset({"rate"}),
    "product": frozenset({"text"}), "verify_code": frozenset({"text"}), "agency": frozenset({"text"}),
    "staff": frozenset({"text"}), "reg_no": frozenset({"text"}), "visit_date": frozenset({"text"}),
    **{c: frozenset({"text"}) for c in CONTEXT_VARS},
}
TEXT_MAX = 20  # a text value longer than this is cut: SMS space is billed and a long value hides content
# widest rendering of each type, for a template's worst-case length (money: the policy's 9-digit yuan maximum)
MAX_WIDTH: dict[str, str] = {"money": "999,999,999.99元", "date": "12月31日", "date:iso": "2026-12-31",
                             "masked_name": "欧*", "last4": "0000", "integer": "9999", "rate": "0.05%",
                             "text": "X" * TEXT_MAX}
# variables whose values have a known width narrower than their type's (the verification code: 6 characters)
NAME_WIDTH: dict[str, str] = {"verify_code": "X" * 6, "visit_date": "12月31日23:59"}


def base_type(vtype: str) -> str:
    return TYPE_VARIANTS.get(vtype, vtype)


LEADING_SIGNATURE = re.compile(r"^【([^【】]*)】")


def own_signature(text: str) -> str | None:
    """The 【signature】 a template text begins with (it then carries its own: nothing is prefixed), else None."""
    m = LEADING_SIGNATURE.match(text)
    return m.group(1) if m else None


def problems(text: str, variables: Mapping[str, str]) -> list[tuple[str, str, int, int]]:
    """Every reason ``text`` with ``variables`` cannot be compiled: ``(message_zh, message_en, start, end)``.

    Unknown type, a name with no data source, a type the name cannot take, an undeclared placeholder, a
    declaration not used, a broken ``${``, an empty text."""
    return binding_problems(text, variables) + syntax_problems(text, variables)


def binding_problems(text: str, variables: Mapping[str, str]) -> list[tuple[str, str, int, int]]:
    """The declared variables that name no data field, or a type their field cannot be rendered as: the template
    can be linted (each variable at its declared type's widest value) but not saved for use."""
    out: list[tuple[str, str, int, int]] = []
    n = len(text)
    for name, vtype in variables.items():
        if vtype not in VAR_TYPES and vtype not in TYPE_VARIANTS:
            continue
        if name not in ALLOWED_TYPES:
            known = [*BINDINGS, *CONTEXT_VARS]
            out.append((f"变量 {name} 没有对应的数据字段（可用：{'、'.join(known)}）",
                        f"variable {name!r} has no data source (known: {', '.join(known)})", 0, n))
        elif base_type(vtype) not in ALLOWED_TYPES[name]:
            ok = sorted(ALLOWED_TYPES[name])
            out.append((f"变量 {name} 不能声明为 {vtype}（应为：{'、'.join(ok)}）",
                        f"variable {name!r} cannot be of type {vtype!r} (use: {', '.join(ok)})", 0, n))
    return out


def syntax_problems(text: str, variables: Mapping[str, str]) -> list[tuple[str, str, int, int]]:
    """What makes the text itself invalid: an unknown type, an undeclared placeholder, a declaration not used, a
    broken ``${``, an empty text."""
    out: list[tuple[str, str, int, int]] = []
    n = len(text)
    for name, vtype in variables.items():
        if vtype not in VAR_TYPES and vtype not in TYPE_VARIANTS:
            out.append((f"变量 {name} 的类型 {vtype} 未知（可用：{'、'.join(VAR_TYPES)}）",
                        f"variable {name!r} has unknown type {vtype!r} (known: {', '.join(VAR_TYPES)})", 0, n))
    for m in PLACEHOLDER.finditer(text):
        if m.group(1) not in variables:
            out.append((f"模板使用了未声明的变量：{m.group(1)}", f"undeclared variable: {m.group(1)}",
                        m.start(), m.end()))
    unused = sorted(set(variables) - set(PLACEHOLDER.findall(text)))
    if unused:
        out.append((f"声明了但未使用的变量：{'、'.join(unused)}", f"declared but unused variables: {', '.join(unused)}",
                    0, n))
    stray = text.find("${")
    while stray >= 0:
        pm = PLACEHOLDER.match(text, stray)
        if pm is None:
            out.append(("存在不完整的占位符（应为 ${变量名}）", "broken placeholder (write ${name})", stray, stray + 2))
            break
        stray = text.find("${", pm.end())
    if not text.strip():
        out.append(("模板内容为空", "empty template", 0, 0))
    return out


@dataclass(frozen=True)
class Sample:
    """A rendering of a template text, with where each character came from.

    ``origin[i]`` is the template-text span that produced character ``i`` of ``text``: a literal character maps
    to itself, every character of a variable's value to its ``${name}``, the signature prefix to ``(0, 0)``.
    """

    text: str
    origin: tuple[tuple[int, int], ...]
    var_spans: tuple[tuple[int, int, str], ...]  # (start, end, name) of each variable's value in ``text``

    def template_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the sample text back to the template text."""
        if not self.origin:
            return 0, 0
        start = min(max(start, 0), len(self.origin) - 1)
        last = min(max(end - 1, start), len(self.origin) - 1)
        return self.origin[start][0], max(self.origin[last][1], self.origin[start][0])


def sample(text: str, variables: Mapping[str, str], context: Mapping[str, str],
           values: Mapping[str, str] | None = None) -> Sample:
    """``【signature】`` (when the context has one and the text does not begin with its own 【…】) + ``text`` with
    every placeholder replaced: by ``values[name]``, else the context's constant, else the widest value of its
    declared type (an undeclared placeholder or an unknown type: the widest text), so that a template with
    :func:`problems` can still be linted for everything else."""
    values = values or {}
    out: list[str] = []
    origin: list[tuple[int, int]] = []
    var_spans: list[tuple[int, int, str]] = []
    length = 0
    sig = context.get("signature")
    if sig and own_signature(text) is None:
        prefix = f"【{sig}】"
        out.append(prefix)
        origin.extend([(0, 0)] * len(prefix))
        length = len(prefix)
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        literal = text[pos:m.start()]
        out.append(literal)
        origin.extend((pos + i, pos + i + 1) for i in range(len(literal)))
        length += len(literal)
        var = m.group(1)
        value = values.get(var)
        if value is None and var in CONTEXT_VARS:
            value = context.get(var)
        if value is None:
            vtype = variables.get(var, "text")
            value = NAME_WIDTH.get(var) or MAX_WIDTH.get(vtype) or MAX_WIDTH.get(base_type(vtype)) or MAX_WIDTH["text"]
        value = str(value)[:TEXT_MAX] if variables.get(var, "text") == "text" else str(value)
        out.append(value)
        origin.extend([(m.start(), m.end())] * len(value))
        var_spans.append((length, length + len(value), var))
        length += len(value)
        pos = m.end()
    out.append(text[pos:])
    origin.extend((pos + i, pos + i + 1) for i in range(len(text) - pos))
    return Sample("".join(out), tuple(origin), tuple(var_spans))
