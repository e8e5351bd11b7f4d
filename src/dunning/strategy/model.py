"""The strategy file: a versioned YAML validated with pydantic, with errors a strategist can act on."""

from __future__ import annotations

import hashlib
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dunning.errors import InputError

BUCKETS = ("C", "M1", "M2", "M3", "M4+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    start: time = time(9, 0)
    end: time = time(20, 30)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("send_window.start 必须早于 end")
        return self


class Budget(_Strict):
    max_per_day: int = Field(1, ge=0)
    max_per_7d: int = Field(4, ge=0)
    min_interval_hours: float = Field(20.0, ge=0)


class Thresholds(_Strict):
    min_delivery_rate: float = Field(0.95, ge=0, le=1)
    max_block_findings: int = Field(0, ge=0)
    max_opt_out_rate: float = Field(0.02, ge=0, le=1)


class Pilot(_Strict):
    share: float = Field(0.01, gt=0, le=1)
    min_per_segment: int = Field(1, ge=0)
    test_numbers: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds())


class Condition(_Strict):
    bucket: list[str] | None = None
    dpd_min: int | None = None
    dpd_max: int | None = None
    amount_min: float | None = None  # yuan
    amount_max: float | None = None
    first_time_overdue: bool | None = None
    product: list[str] | None = None
    region: list[str] | None = None

    @field_validator("bucket")
    @classmethod
    def _buckets(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            bad = [b for b in v if b not in BUCKETS]
            if bad:
                raise ValueError(f"未知的逾期阶段 {bad}，可选 {list(BUCKETS)}")
        return v


class Variant(_Strict):
    name: str
    template: str
    weight: float = Field(1.0, gt=0)


class Step(_Strict):
    """When a step is due: ``pre_due_days`` (days before the due date, 0 = due day) or ``dpd`` days, or every N
    days between ``from``/``to`` DPD. One template, or several weighted variants, plus an optional hold-out."""

    name: str | None = None
    pre_due_days: list[int] | None = None
    dpd: list[int] | None = None
    every: int | None = Field(None, gt=0)
    dpd_from: int | None = None
    dpd_to: int | None = None
    template: str | None = None
    variants: list[Variant] | None = None
    holdout: float = Field(0.0, ge=0, lt=1)
    payday_offset: int | None = None  # move to N days before payday, when the account has one

    @model_validator(mode="after")
    def _check(self) -> Step:
        if (self.template is None) == (self.variants is None):
            raise ValueError("每个步骤须且只能指定 template 或 variants 之一")
        if self.pre_due_days is None and self.dpd is None and self.every is None:
            raise ValueError("每个步骤须指定 pre_due_days、dpd 或 every 之一")
        if self.every is not None and (self.dpd_from is None or self.dpd_to is None):
            raise ValueError("every 须同时指定 dpd_from 和 dpd_to")
        return self

    def variant_list(self) -> list[Variant]:
        if self.variants is not None:
            return self.variants
        assert self.template is not None
        return [Variant(name="A", template=self.template, weight=1.0)]


class Segment(_Strict):
    name: str
    when: Condition = Field(default_factory=lambda: Condition())
    steps: list[Step]


class StrategySpec(_Strict):
    name: str
    version: int = 1
    profile: Literal["CN", "US"] = "CN"
    timezone: str = "Asia/Shanghai"
    send_window: Window = Field(default_factory=lambda: Window())
    holidays: Literal["send", "skip", "defer"] = "send"
    budget: Budget = Field(default_factory=lambda: Budget())
    pilot: Pilot = Field(default_factory=lambda: Pilot())
    segments: list[Segment]

    @model_validator(mode="after")
    def _unique(self) -> StrategySpec:
        names = [s.name for s in self.segments]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"分群名称重复：{sorted(dup)}")
        return self

    def templates(self) -> set[str]:
        return {v.template for s in self.segments for st in s.steps for v in st.variant_list()}


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {loc or '(根)'}: {err['msg']}")
    return f"策略文件 {source} 无效：\n" + "\n".join(lines)


def parse_strategy(text: str, source: str = "<strategy>") -> tuple[StrategySpec, str]:
    """Parse and validate; returns the spec and the SHA-256 of the text (the version's identity)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"策略文件 {source} 不是合法的 YAML：{exc}", f"{source} is not valid YAML: {exc}",
                         code="strategy.invalid") from exc
    if not isinstance(data, dict):
        raise InputError(f"策略文件 {source} 应为一个映射（键: 值）", f"{source} must be a mapping",
                         code="strategy.invalid")
    try:
        spec = StrategySpec.model_validate(data)
    except ValidationError as exc:
        msg = _format_errors(exc, source)
        raise InputError(msg, msg, code="strategy.invalid") from exc
    return spec, hashlib.sha256(text.encode()).hexdigest()


def load_strategy(path: Path) -> tuple[StrategySpec, str, str]:
    text = path.read_text(encoding="utf-8")
    spec, sha = parse_strategy(text, str(path))
    return spec, sha, text


def load_bundled_strategy() -> tuple[StrategySpec, str, str]:
    text = resources.files("dunning.data").joinpath("strategy_cn.yaml").read_text(encoding="utf-8")
    spec, sha = parse_strategy(text, "strategy_cn.yaml")
    return spec, sha, text
