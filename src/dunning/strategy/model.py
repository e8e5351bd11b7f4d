"""The strategy file: a versioned YAML validated with pydantic, with errors a strategist can act on.

A strategy says who gets which message when: segments (first match wins), each with a cadence of steps; the
send window and how a campaign is spread over it; holidays; the contact budget; champion/challenger variants
with a hold-out; and the pilot. Everything here is a value; the vectorised rules live in the sibling modules.
"""

from __future__ import annotations

import hashlib
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dunning.errors import InputError

BUCKETS = ("C", "M1", "M2", "M3", "M4+")


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"未知的时区 {name!r}（应为 IANA 名称，如 Asia/Shanghai）") from exc
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Local wall-clock hours, in the recipient's time zone; clipped to the policy's legal window at planning."""

    start: time = time(9, 0)
    end: time = time(20, 30)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("send_window.start 必须早于 end")
        return self


class Spread(_Strict):
    """How planned messages are placed in the window.

    ``rate``: one after the other from the window's opening at the channel's rate (times ``rate_share``): the
    schedule is exactly when the channel can take them, and whatever cannot fit before the window closes is
    suppressed as ``window`` at planning instead of expiring at 20:30.
    ``even``: spaced evenly over the whole window (never faster than the rate), for carriers or call centres
    that want a smooth day. ``reserve_minutes`` keeps the window's last minutes free for retries.
    """

    mode: Literal["rate", "even"] = "rate"
    rate_share: float = Field(1.0, gt=0, le=1)
    reserve_minutes: int = Field(0, ge=0, le=600)


class Budget(_Strict):
    """Per phone, across all campaigns and products, counted from what was actually sent."""

    max_per_day: int = Field(1, ge=0)
    max_per_7d: int = Field(4, ge=0)
    min_interval_hours: float = Field(20.0, ge=0)


class Hardship(_Strict):
    """Reminders to a borrower with an open hardship case: ``pause`` them, or send ``gentle`` ones from
    ``template`` (an acknowledgement of the request) instead of the step's template."""

    action: Literal["pause", "gentle"] = "pause"
    template: str | None = None

    @model_validator(mode="after")
    def _template(self) -> Hardship:
        if self.action == "gentle" and not self.template:
            raise ValueError("hardship.action 为 gentle 时须指定 template（温和确认模板）")
        return self


class Thresholds(_Strict):
    min_delivery_rate: float = Field(0.95, ge=0, le=1)
    max_block_findings: int = Field(0, ge=0)
    max_opt_out_rate: float = Field(0.02, ge=0, le=1)


class Pilot(_Strict):
    """Pilot size as a ``share`` of the planned messages or an absolute ``count`` (not both; default 1 %),
    stratified by segment and variant with at least ``min_per_segment`` per stratum; ``test_numbers`` are
    internal phones that receive one sample of every template variant (rendered from synthetic data)."""

    share: float = Field(0.01, gt=0, le=1)
    count: int | None = Field(None, gt=0)
    min_per_segment: int = Field(1, ge=0)
    test_numbers: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds())

    @model_validator(mode="after")
    def _one_size(self) -> Pilot:
        if "share" in self.model_fields_set and self.count is not None:
            raise ValueError("pilot 只能指定 share 或 count 之一")
        return self

    @property
    def effective_share(self) -> float | None:
        """The share to sample, or None when an absolute ``count`` is set (the count wins)."""
        return None if self.count is not None else self.share


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

    @model_validator(mode="after")
    def _ranges(self) -> Condition:
        if self.dpd_min is not None and self.dpd_max is not None and self.dpd_min > self.dpd_max:
            raise ValueError("dpd_min 不能大于 dpd_max")
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValueError("amount_min 不能大于 amount_max")
        return self


class Variant(_Strict):
    name: str = Field(min_length=1, max_length=32)
    template: str
    weight: float = Field(1.0, gt=0)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v == "holdout":
            raise ValueError("变体名称 holdout 为对照组保留")
        return v


class Step(_Strict):
    """When a step is due: ``pre_due_days`` (days before the due date, 0 = due day) or ``dpd`` days, or every N
    days between ``dpd_from``/``dpd_to``. One template, or several weighted variants, plus an optional hold-out.

    ``payday_offset: N`` moves the step, for accounts with a payday, to N days before the next payday on or after
    the day it would have been due (across month ends; a payday past a short month's end is its last day), unless
    that is more than ``payday_max_shift_days`` later — then the step stays on its own day.
    """

    name: str | None = Field(None, max_length=32)
    pre_due_days: list[int] | None = None
    dpd: list[int] | None = None
    every: int | None = Field(None, gt=0)
    dpd_from: int | None = None
    dpd_to: int | None = None
    template: str | None = None
    variants: list[Variant] | None = None
    holdout: float = Field(0.0, ge=0, lt=1)
    payday_offset: int | None = Field(None, ge=0, le=27)
    payday_max_shift_days: int = Field(10, ge=0, le=31)

    @field_validator("pre_due_days")
    @classmethod
    def _non_negative(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(d < 0 for d in v):
            raise ValueError("pre_due_days 为到期前天数，须 ≥ 0（0 = 到期当天）")
        return v

    @model_validator(mode="after")
    def _check(self) -> Step:
        if (self.template is None) == (self.variants is None):
            raise ValueError("每个步骤须且只能指定 template 或 variants 之一")
        if self.pre_due_days is None and self.dpd is None and self.every is None:
            raise ValueError("每个步骤须指定 pre_due_days、dpd 或 every 之一")
        if self.every is not None and (self.dpd_from is None or self.dpd_to is None):
            raise ValueError("every 须同时指定 dpd_from 和 dpd_to")
        if self.dpd_from is not None and self.dpd_to is not None and self.dpd_from > self.dpd_to:
            raise ValueError("dpd_from 不能大于 dpd_to")
        if self.variants is not None:
            names = [v.name for v in self.variants]
            if len(set(names)) != len(names):
                raise ValueError(f"同一步骤的变体名称重复：{names}")
        return self

    def variant_list(self) -> list[Variant]:
        if self.variants is not None:
            return self.variants
        assert self.template is not None  # nosec B101  # narrows a type for mypy; the invariant holds by construction
        return [Variant(name="A", template=self.template, weight=1.0)]

    def cadence_values(self) -> list[int]:
        """The explicit DPD values of the step (pre-due days as negative DPD); ``every`` is kept apart."""
        return sorted({-d for d in self.pre_due_days or []} | set(self.dpd or []))


class Segment(_Strict):
    name: str = Field(min_length=1, max_length=64)
    when: Condition = Field(default_factory=lambda: Condition())
    steps: list[Step]


class StrategySpec(_Strict):
    name: str
    version: int = 1
    profile: Literal["CN", "US"] = "CN"
    timezone: str = "Asia/Shanghai"
    region_timezones: dict[str, str] = Field(default_factory=dict)
    send_window: Window = Field(default_factory=lambda: Window())
    spread: Spread = Field(default_factory=lambda: Spread())
    holidays: Literal["send", "skip", "defer"] = "send"
    holiday_days: Literal["statutory", "rest_days"] = "statutory"
    quiet_dates: list[date] = Field(default_factory=list)
    budget: Budget = Field(default_factory=lambda: Budget())
    pilot: Pilot = Field(default_factory=lambda: Pilot())
    hardship: Hardship = Field(default_factory=lambda: Hardship())
    segments: list[Segment]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _check_zone(v)

    @field_validator("region_timezones")
    @classmethod
    def _zones(cls, v: dict[str, str]) -> dict[str, str]:
        for zone in v.values():
            _check_zone(zone)
        return v

    @model_validator(mode="after")
    def _unique(self) -> StrategySpec:
        names = [s.name for s in self.segments]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"分群名称重复：{sorted(dup)}")
        keys: list[str] = [st.name or f"{seg.name}#{i + 1}" for seg in self.segments for i, st in enumerate(seg.steps)]
        dup_steps = {k for k in keys if keys.count(k) > 1}
        if dup_steps:
            raise ValueError(f"步骤名称重复：{sorted(dup_steps)}（步骤名称用于幂等键，须唯一）")
        return self

    def templates(self) -> set[str]:
        found = {v.template for s in self.segments for st in s.steps for v in st.variant_list()}
        if self.hardship.action == "gentle" and self.hardship.template:
            found.add(self.hardship.template)
        return found


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"  {loc or '(根)'}: {msg}")
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
