"""Typed ``${var}`` templates compiled once into a vectorised Polars expression.

The signature is not part of a template's text: :func:`render` prefixes ``【signature】`` from the context, so a
template serves any registered signature, and lint always sees the full text a borrower receives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import polars as pl
import yaml

from dunning.domain.masking import mask_name_expr
from dunning.domain.money import yuan_expr
from dunning.errors import InputError

VAR_TYPES = ("money", "date", "masked_name", "last4", "integer", "text", "rate")
CONTEXT_VARS = ("institution", "hotline", "app", "signature", "domain")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# variable name → source column of the accounts frame
BINDINGS: dict[str, str] = {
    "name": "name", "amount": "amount_due_fen", "amount_due": "amount_due_fen", "due_date": "due_date",
    "dpd": "dpd", "days_overdue": "dpd", "days_to_due": "dpd", "last4": "loan_id", "penalty_rate": "penalty_rate",
    "product": "product", "verify_code": "verify_code",
}
# widest rendering of each type, for the worst-case length of a template
MAX_WIDTH = {"money": "999,999.99元", "date": "12月31日", "masked_name": "欧*", "last4": "0000", "integer": "999",
             "rate": "0.0500%", "text": "X" * 12}
TEXT_MAX = 20


class TemplateError(InputError):
    code = "template.invalid"


@dataclass(frozen=True)
class TemplateSpec:
    id: str
    text: str
    variables: dict[str, str]
    tone: str
    stage: str
    profile: str = "CN"
    description: str = ""


@dataclass(frozen=True)
class CompiledTemplate:
    text: str
    variables: dict[str, str]
    pieces: tuple[tuple[str, str | None], ...] = field(default=())  # (literal, variable-or-None)

    def _var_expr(self, name: str, context: Mapping[str, str]) -> pl.Expr:
        vtype = self.variables[name]
        if name in CONTEXT_VARS:
            return pl.lit(str(context.get(name, "")))
        col = BINDINGS.get(name, name)
        c = pl.col(col)
        if vtype == "money":
            return yuan_expr(col)
        if vtype == "date":
            return c.dt.strftime("%-m月%-d日")
        if vtype == "masked_name":
            return mask_name_expr(col)
        if vtype == "last4":
            return c.cast(pl.Utf8).str.slice(-4)
        if vtype == "integer":
            v = (-c) if name == "days_to_due" else c
            return v.cast(pl.Int64).cast(pl.Utf8)
        if vtype == "rate":
            pct = (c * 100).round(4)
            return pl.concat_str([pct.cast(pl.Utf8).str.replace(r"\.?0+$", ""), pl.lit("%")])
        # text: bounded, and never a URL
        t = c.cast(pl.Utf8).fill_null("").str.slice(0, TEXT_MAX)
        return pl.when(t.str.contains(r"(?i)https?://|www\.")).then(pl.lit("")).otherwise(t)

    def expr(self, context: Mapping[str, str]) -> pl.Expr:
        parts: list[pl.Expr] = []
        sig = context.get("signature")
        if sig:
            parts.append(pl.lit(f"【{sig}】"))
        for literal, var in self.pieces:
            if literal:
                parts.append(pl.lit(literal))
            if var is not None:
                parts.append(self._var_expr(var, context).fill_null(""))
        return pl.concat_str(parts)

    def worst_case_text(self, context: Mapping[str, str]) -> str:
        out = [f"【{context['signature']}】"] if context.get("signature") else []
        for literal, var in self.pieces:
            out.append(literal)
            if var is not None:
                out.append(str(context[var]) if var in CONTEXT_VARS and var in context
                           else MAX_WIDTH[self.variables[var]])
        return "".join(out)

    def worst_case_length(self, context: Mapping[str, str]) -> int:
        return len(self.worst_case_text(context))


def compile_template(text: str, variables: Mapping[str, str]) -> CompiledTemplate:
    """Check the placeholders against the declared variables and compile; errors name what to fix."""
    used = PLACEHOLDER.findall(text)
    problems = []
    for name, vtype in variables.items():
        if vtype not in VAR_TYPES:
            problems.append(f"变量 {name} 的类型 {vtype} 未知（可用：{'、'.join(VAR_TYPES)}）")
        elif name not in BINDINGS and name not in CONTEXT_VARS:
            problems.append(f"变量 {name} 没有对应的数据字段（可用：{'、'.join([*BINDINGS, *CONTEXT_VARS])}）")
    undeclared = sorted(set(used) - set(variables))
    if undeclared:
        problems.append(f"模板使用了未声明的变量：{'、'.join(undeclared)}")
    unused = sorted(set(variables) - set(used))
    if unused:
        problems.append(f"声明了但未使用的变量：{'、'.join(unused)}")
    stray = re.sub(PLACEHOLDER, "", text)
    if "${" in stray:
        problems.append("存在不完整的占位符（应为 ${变量名}）")
    if problems:
        msg = "；".join(problems)
        raise TemplateError(f"模板无效：{msg}", f"invalid template: {msg}")
    pieces: list[tuple[str, str | None]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        pieces.append((text[pos:m.start()], m.group(1)))
        pos = m.end()
    pieces.append((text[pos:], None))
    return CompiledTemplate(text=text, variables=dict(variables), pieces=tuple(pieces))


def render(frame: pl.DataFrame, compiled: CompiledTemplate, context: Mapping[str, str]) -> pl.Series:
    """Render every row of ``frame`` in one frame operation."""
    return frame.select(compiled.expr(context).alias("text"))["text"]


def load_bundled_templates() -> list[TemplateSpec]:
    data: Any = yaml.safe_load(resources.files("dunning.data").joinpath("templates.yaml").read_text(encoding="utf-8"))
    return [TemplateSpec(id=t["id"], text=t["text"], variables=dict(t["variables"]), tone=t["tone"],
                         stage=t["stage"], profile=t.get("profile", "CN"), description=t.get("description", ""))
            for t in data["templates"]]
