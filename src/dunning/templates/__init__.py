"""Typed ``${var}`` templates compiled once into a vectorised Polars expression.

A template is text with ``${name}`` placeholders (the syntax Chinese SMS platforms use) and a declaration
``{name: type}`` for each of them. The variable's **name** picks where the value comes from (a column of the
accounts frame, or a constant of the rendering context); its declared **type** picks the formatter.

=============  ==================  =========================================================================
name           source              allowed types
=============  ==================  =========================================================================
name           ``name``            masked_name (张* ; empty → 客户). A full name is never rendered.
amount         ``amount_due_fen``  money (``1,234.50元``)
due_date       ``due_date``        date (``8月31日``; ``date:iso`` → ``2026-08-31``)
dpd            ``dpd``             integer (days past due)
days_overdue   ``dpd``             integer
days_to_due    ``dpd``             integer (rendered as ``-dpd``)
last4          ``loan_id``         last4 (last four characters)
penalty_rate   ``penalty_rate``    rate (a daily fraction rendered as percent per day: 0.0005 → ``0.05%``)
product        ``product``         text
verify_code    ``verify_code``     text (filled by the planning service before rendering)
agency         ``agency``          text (the entrusted agency's name; the entrustment notice, issue 22)
staff,         ``staff``,          text (the visit notice, issue 21: the visit's staff names, its registration
reg_no,        ``reg_no``,         number ``REG-…``, its local date and time; columns the visits service puts in
visit_date     ``visit_date``      the notice campaign's scope)
institution,   context             text (constants of the institution's identity; the same for every row)
hotline, app,
domain,
signature
=============  ==================  =========================================================================

**Signature.** A template's text usually does *not* contain the 【signature】: :meth:`CompiledTemplate.expr` (and
so :func:`render`) prefixes ``【context["signature"]】`` (the policy's first registered signature) when the context
has one, so one approved text serves every registered signature. A text that begins with its own 【…】 (the form
Chinese SMS aggregators expect) carries that signature and nothing is prefixed: the prefix is always exactly one,
and the lint checks that the template's own signature is registered. The lint always sees the full text a borrower
receives: :func:`dunning.compliance.lint_template` lints the widest rendering with the signature prefixed, and
rendered messages are linted as rendered. A context without ``signature`` renders no prefix (the US profile, where
the sender identity is written in the text itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import polars as pl
import yaml

from dunning.compliance.placeholders import (
    ALLOWED_TYPES,
    BINDINGS,
    CONTEXT_VARS,
    MAX_WIDTH,
    PLACEHOLDER,
    TEXT_MAX,
    VAR_TYPES,
    Sample,
    own_signature,
    problems,
)
from dunning.compliance.placeholders import sample as _sample
from dunning.domain.masking import mask_name_expr
from dunning.errors import InputError

TONES = ("gentle", "neutral", "firm")
STAGES = ("pre_due_3", "pre_due_1", "due_today", "first_overdue", "M1", "M2", "M3", "M4+", "agency_notice",
          "visit_notice")
URLISH = r"(?i)https?://|www\.|\.(?:com|cn|net|cc|top|xyz|io|me)\b"


class TemplateError(InputError, code="template.invalid"):
    """A template that cannot be compiled: unknown type, undeclared or unused variable, wrong type for a name."""


@dataclass(frozen=True)
class TemplateSpec:
    """A template as written (bundled YAML, a lint file, or a stored version)."""

    id: str
    text: str
    variables: dict[str, str]
    tone: str  # gentle | neutral | firm
    stage: str  # pre_due_3 | pre_due_1 | due_today | first_overdue | M1 | M2 | M3 | M4+
    profile: str = "CN"
    description: str = ""


@dataclass(frozen=True)
class CompiledTemplate:
    """A checked template, ready to render any number of rows with one Polars expression."""

    text: str
    variables: dict[str, str]
    pieces: tuple[tuple[str, str | None], ...] = field(default=())  # (literal, variable-or-None)
    placeholder_spans: tuple[tuple[int, int], ...] = field(default=())  # of each piece's variable in ``text``

    @property
    def columns(self) -> list[str]:
        """Accounts-frame columns the template reads."""
        return sorted({BINDINGS[v] for v in self.variables if v not in CONTEXT_VARS})

    def _var_expr(self, name: str, context: Mapping[str, str]) -> pl.Expr:
        vtype = self.variables[name]
        if name in CONTEXT_VARS:
            return pl.lit(_bounded(str(context.get(name, ""))))
        col = BINDINGS[name]
        c = pl.col(col)
        if vtype == "money":
            return money_expr(col)
        if vtype == "date":
            return c.dt.strftime("%-m月%-d日")
        if vtype == "date:iso":
            return c.dt.strftime("%Y-%m-%d")
        if vtype == "masked_name":
            return mask_name_expr(col)
        if vtype == "last4":
            return c.cast(pl.Utf8).str.slice(-4)
        if vtype == "integer":
            v = (-c) if name == "days_to_due" else c
            return v.cast(pl.Int64).cast(pl.Utf8)
        if vtype == "rate":
            return rate_expr(col)
        # text: bounded, and never a URL (a URL in a value would escape template review)
        t = c.cast(pl.Utf8).fill_null("").str.slice(0, TEXT_MAX)
        return pl.when(t.str.contains(URLISH)).then(pl.lit("")).otherwise(t)

    def expr(self, context: Mapping[str, str]) -> pl.Expr:
        """One Utf8 expression over an accounts frame: ``【signature】`` + the text with every variable formatted.

        A null source value renders as an empty string (a null name renders 客户); lint of the rendered message
        then catches a required element gone missing.
        """
        parts: list[pl.Expr] = []
        sig = context.get("signature")
        if sig and own_signature(self.text) is None:
            parts.append(pl.lit(f"【{sig}】"))
        for literal, var in self.pieces:
            if literal:
                parts.append(pl.lit(literal))
            if var is not None:
                parts.append(self._var_expr(var, context).fill_null(""))
        if not parts:
            return pl.lit("")
        return pl.concat_str(parts)

    @property
    def param_names(self) -> list[str]:
        """The template's variables in order of first appearance in the text: the order of the parameters a
        template-based provider receives (Aliyun by name, Tencent by position)."""
        seen: list[str] = []
        for _, var in self.pieces:
            if var is not None and var not in seen:
                seen.append(var)
        return seen

    def params_expr(self, context: Mapping[str, str]) -> pl.Expr:
        """One Utf8 expression: a JSON object of every variable's rendered value (name → string, in
        :attr:`param_names` order), formatted exactly as in :meth:`expr` (null → empty string)."""
        names = self.param_names
        if not names:
            return pl.lit("{}")
        return pl.struct([self._var_expr(n, context).fill_null("").cast(pl.Utf8).alias(n) for n in names]) \
            .struct.json_encode()

    def render_one(self, values: Mapping[str, Any], context: Mapping[str, str]) -> str:
        """Render one row given as a mapping of accounts-frame columns (previews; same code path as a frame)."""
        cols = {BINDINGS[v]: values.get(BINDINGS[v]) for v in self.variables if v not in CONTEXT_VARS}
        frame = pl.DataFrame({k: [v] for k, v in cols.items()}, schema=_schema_for(cols))
        return str(frame.select(self.expr(context)).item())

    def sample(self, context: Mapping[str, str], values: Mapping[str, str] | None = None) -> Sample:
        """The widest rendering (or with ``values`` for some variables) with the origin of every character."""
        return _sample(self.text, self.variables, context, values)

    def worst_case_text(self, context: Mapping[str, str]) -> str:
        """The template with every variable at its widest and the signature prefixed."""
        return self.sample(context).text

    def worst_case_length(self, context: Mapping[str, str]) -> int:
        """Characters of the widest rendering, signature included (CN counting)."""
        return len(self.worst_case_text(context))


def _bounded(value: str) -> str:
    return value[:TEXT_MAX] if len(value) > TEXT_MAX else value


def _schema_for(cols: Mapping[str, Any]) -> dict[str, pl.DataType]:
    types: dict[str, pl.DataType] = {
        "name": pl.Utf8(), "amount_due_fen": pl.Int64(), "due_date": pl.Date(), "dpd": pl.Int32(),
        "loan_id": pl.Utf8(), "penalty_rate": pl.Float64(), "product": pl.Utf8(), "verify_code": pl.Utf8(),
        "agency": pl.Utf8(), "staff": pl.Utf8(), "reg_no": pl.Utf8(), "visit_date": pl.Utf8(),
    }
    return {k: types[k] for k in cols}


def money_expr(fen_col: str) -> pl.Expr:
    """Integer fen → ``1,234.50元`` with integer arithmetic (no regex): same output as
    :func:`dunning.domain.money.format_yuan`, about three times faster than a regex-based grouping."""
    fen = pl.col(fen_col).cast(pl.Int64)
    neg = fen < 0
    a = fen.abs()
    w = a // 100

    def z3(e: pl.Expr) -> pl.Expr:
        return e.cast(pl.Utf8).str.zfill(3)

    grouped = (
        pl.when(w >= 1_000_000_000).then(pl.concat_str([
            (w // 1_000_000_000).cast(pl.Utf8), pl.lit(","), z3((w // 1_000_000) % 1000), pl.lit(","),
            z3((w // 1000) % 1000), pl.lit(","), z3(w % 1000)]))
        .when(w >= 1_000_000).then(pl.concat_str([
            (w // 1_000_000).cast(pl.Utf8), pl.lit(","), z3((w // 1000) % 1000), pl.lit(","), z3(w % 1000)]))
        .when(w >= 1000).then(pl.concat_str([(w // 1000).cast(pl.Utf8), pl.lit(","), z3(w % 1000)]))
        .otherwise(w.cast(pl.Utf8))
    )
    return pl.concat_str([pl.when(neg).then(pl.lit("-")).otherwise(pl.lit("")), grouped, pl.lit("."),
                          (a % 100).cast(pl.Utf8).str.zfill(2), pl.lit("元")])


def rate_expr(col: str) -> pl.Expr:
    """A daily fraction → percent per day with up to four decimals, trailing zeros dropped: 0.0005 → ``0.05%``,
    0.00055 → ``0.055%``, 0.01 → ``1%``. Null stays null."""
    micro = (pl.col(col).cast(pl.Float64) * 1_000_000).round(0).cast(pl.Int64)  # 1e-4 percent units
    whole = (micro // 10_000).cast(pl.Utf8)
    frac = (micro % 10_000).cast(pl.Utf8).str.zfill(4).str.strip_chars_end("0")
    return pl.concat_str([whole, pl.when(frac.str.len_chars() > 0).then(pl.concat_str([pl.lit("."), frac]))
                          .otherwise(pl.lit("")), pl.lit("%")])


def format_rate(rate: float) -> str:
    """Scalar :func:`rate_expr`."""
    micro = round(rate * 1_000_000)
    frac = f"{micro % 10_000:04d}".rstrip("0")
    return f"{micro // 10_000}{'.' + frac if frac else ''}%"


def compile_template(text: str, variables: Mapping[str, str]) -> CompiledTemplate:
    """Check the placeholders against the declared variables and compile.

    Raises :class:`TemplateError` (code ``template.invalid``) naming every problem at once: an unknown type, a
    variable name with no data source, a type the name cannot be rendered as, a placeholder not declared, a
    declaration not used, or a broken ``${`` placeholder.
    """
    found = problems(text, {str(k): str(v) for k, v in variables.items()})
    if found:
        raise TemplateError(f"模板无效：{'；'.join(p[0] for p in found)}",
                            f"invalid template: {'; '.join(p[1] for p in found)}")
    pieces: list[tuple[str, str | None]] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        pieces.append((text[pos:m.start()], m.group(1)))
        spans.append((m.start(), m.end()))
        pos = m.end()
    pieces.append((text[pos:], None))
    return CompiledTemplate(text=text, variables={k: str(v) for k, v in variables.items()}, pieces=tuple(pieces),
                            placeholder_spans=tuple(spans))


def render(frame: pl.DataFrame, compiled: CompiledTemplate, context: Mapping[str, str]) -> pl.Series:
    """Render every row of ``frame`` in one frame operation (a Utf8 Series named ``text``, one per row)."""
    out = frame.select(compiled.expr(context).alias("text"))["text"]
    if out.len() != frame.height:  # a template of constants only: a literal, broadcast to every row
        out = pl.repeat(out[0] if out.len() else "", frame.height, dtype=pl.Utf8, eager=True).alias("text")
    return out


def provider_code(channel_codes: Mapping[str, Any] | None, keys: Sequence[str]) -> str:
    """The provider template code a version registered for a channel: the first non-blank entry of
    ``channel_codes`` under ``keys`` (the channel's name, then its kind); ``""`` when none is registered."""
    if not isinstance(channel_codes, Mapping):
        return ""
    return next((code for k in keys if (code := str(channel_codes.get(k) or "").strip())), "")


def render_params(frame: pl.DataFrame, compiled: CompiledTemplate, context: Mapping[str, str]) -> pl.Series:
    """The variable values of every row of ``frame`` as JSON objects (a Utf8 Series named ``params``)."""
    out = frame.select(compiled.params_expr(context).alias("params"))["params"]
    if out.len() != frame.height:  # constants only: one value, broadcast to every row
        out = pl.repeat(out[0] if out.len() else "{}", frame.height, dtype=pl.Utf8, eager=True).alias("params")
    return out


def render_many(frame: pl.DataFrame, compiled: Mapping[str, CompiledTemplate], context: Mapping[str, str], *,
                template_col: str = "template") -> pl.Series:
    """Render a frame whose rows name their template in ``template_col``: one expression per template, each
    evaluated only on its own rows, the results back in the frame's row order (rows with no template → null)."""
    idx = frame.with_row_index("_row")
    parts = [pl.DataFrame(schema={"_row": pl.UInt32, "text": pl.Utf8})]
    for code, c in compiled.items():
        part = idx.filter(pl.col(template_col) == code)
        if part.height:
            parts.append(part.select("_row", c.expr(context).alias("text")))
    out = pl.concat(parts)
    return idx.select("_row").join(out, on="_row", how="left", maintain_order="left")["text"]


def parse_specs(data: Any, *, source: str = "templates") -> list[TemplateSpec]:
    """Template specs from parsed YAML: a list of mappings, or a mapping with a ``templates`` list."""
    items = data.get("templates") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TemplateError(f"{source}：应为模板列表（每项含 id、text、variables）",
                            f"{source}: expected a list of templates with id, text, variables")
    out: list[TemplateSpec] = []
    for i, t in enumerate(items):
        if not isinstance(t, dict) or "text" not in t:
            raise TemplateError(f"{source} 第 {i + 1} 项：缺少 text", f"{source} item {i + 1}: missing text")
        variables = t.get("variables") or {}
        if not isinstance(variables, dict):
            raise TemplateError(f"{source} 第 {i + 1} 项：variables 应为 变量名: 类型 的映射",
                                f"{source} item {i + 1}: variables must map name to type")
        out.append(TemplateSpec(id=str(t.get("id", f"#{i + 1}")), text=str(t["text"]),
                                variables={str(k): str(v) for k, v in variables.items()},
                                tone=str(t.get("tone", "neutral")), stage=str(t.get("stage", "")),
                                profile=str(t.get("profile", "CN")), description=str(t.get("description", ""))))
    return out


def load_bundled_templates() -> list[TemplateSpec]:
    """The bundled Chinese set (``dunning/data/templates.yaml``): one per cadence stage plus an M1 challenger."""
    text = resources.files("dunning.data").joinpath("templates.yaml").read_text(encoding="utf-8")
    return parse_specs(yaml.safe_load(text), source="templates.yaml")


__all__: Sequence[str] = (
    "ALLOWED_TYPES", "BINDINGS", "CONTEXT_VARS", "MAX_WIDTH", "PLACEHOLDER", "STAGES", "TEXT_MAX", "TONES", "VAR_TYPES",
    "CompiledTemplate", "Sample", "TemplateError", "TemplateSpec", "compile_template", "format_rate",
    "load_bundled_templates", "money_expr", "parse_specs", "provider_code", "rate_expr", "render", "render_many",
    "render_params",
)
