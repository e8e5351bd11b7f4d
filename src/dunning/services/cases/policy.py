"""The case policy (``data/policy/cases.yaml``): owner team, due periods, suppression and outcomes per case type."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from dunning.domain.cases import CaseType
from dunning.errors import ConfigError

Suppress = Literal["stop", "strategy", "none"]
FieldKind = Literal["integer", "date", "money", "text"]


@dataclass(frozen=True)
class Period:
    """``business_days`` working days, or ``days`` calendar days (ending on a working day)."""

    business_days: int | None = None
    days: int | None = None


@dataclass(frozen=True)
class TypeRule:
    """How one case type is handled: the team it goes to, its deadlines (resolve, and acknowledge where the
    rules ask for one), whether an open case suppresses reminders, its outcomes and the legal references."""

    type: str
    team: str
    resolve: Period
    acknowledge: Period | None
    suppress: Suppress
    outcomes: dict[str, dict[str, FieldKind]]  # outcome → its data fields
    do_not_contact: frozenset[str]  # outcomes that leave the phone on the do-not-contact list
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CasePolicy:
    profile: str
    timezone: str
    working_days: Literal["statutory", "rest_days"]
    types: dict[str, TypeRule]
    refs: dict[str, str] = field(default_factory=dict)

    def rule(self, case_type: str) -> TypeRule:
        try:
            return self.types[case_type]
        except KeyError:
            raise ConfigError(f"案件政策中没有类型 {case_type}", f"the case policy has no type {case_type!r}",
                              code="config.case_type") from None

    def stopping_types(self) -> tuple[str, ...]:
        return tuple(t for t, r in self.types.items() if r.suppress == "stop")


def _period(raw: Any, where: str) -> Period:
    if not isinstance(raw, dict) or len(raw) != 1 or not set(raw) <= {"business_days", "days"}:
        raise ConfigError(f"案件政策 {where} 应为 {{business_days: N}} 或 {{days: N}}",
                          f"case policy {where} must be {{business_days: N}} or {{days: N}}", code="config.case_policy")
    n = int(next(iter(raw.values())))
    if n < 0:
        raise ConfigError(f"案件政策 {where} 不能为负数", f"case policy {where} must not be negative",
                          code="config.case_policy")
    return Period(business_days=n) if "business_days" in raw else Period(days=n)


def parse_case_policy(doc: dict[str, Any], profile: str) -> CasePolicy:
    jur = (doc.get("jurisdictions") or {}).get(profile)
    if not isinstance(jur, dict):
        raise ConfigError(f"案件政策没有 {profile} 辖区", f"the case policy has no {profile} section",
                          code="config.case_policy")
    types: dict[str, TypeRule] = {}
    for name, raw in (jur.get("types") or {}).items():
        CaseType(name)  # a type the code knows
        outcomes: dict[str, dict[str, FieldKind]] = {}
        dnc: set[str] = set()
        for oname, ocfg in (raw.get("outcomes") or {}).items():
            ocfg = ocfg or {}
            outcomes[str(oname)] = {str(k): v for k, v in (ocfg.get("fields") or {}).items()}
            if ocfg.get("do_not_contact"):
                dnc.add(str(oname))
        types[name] = TypeRule(
            type=name, team=str(raw.get("team", "operations")), resolve=_period(raw.get("resolve"), f"{name}.resolve"),
            acknowledge=_period(raw["acknowledge"], f"{name}.acknowledge") if raw.get("acknowledge") else None,
            suppress=raw.get("suppress", "none"), outcomes=outcomes, do_not_contact=frozenset(dnc),
            refs=tuple(str(r) for r in raw.get("refs") or ()))
    return CasePolicy(profile=profile, timezone=str(jur.get("timezone", "Asia/Shanghai")), working_days=jur.get("working_days", "rest_days"), types=types,
                      refs={str(k): str(v) for k, v in (jur.get("refs") or {}).items()})


@lru_cache(maxsize=4)
def load_case_policy(profile: str = "CN") -> CasePolicy:
    text = resources.files("dunning.data.policy").joinpath("cases.yaml").read_text(encoding="utf-8")
    return parse_case_policy(yaml.safe_load(text), profile)
