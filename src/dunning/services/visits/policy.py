"""The field-visit policy, read from data (``data/policy/field-visits.yaml``) into a frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dunning.errors import ConfigError


@dataclass(frozen=True)
class Labelled:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Contact:
    """Someone an escalated alarm reaches: a name, a phone for the alert SMS, and (the second supervisor) a
    console username whose board shows the alarm as theirs."""

    name: str
    phone: str
    username: str | None = None


@dataclass(frozen=True)
class AlertPolicy:
    """How an escalated safety alarm's alert SMS is sent: the channel, attempts and the pause between them, the
    deadline after which it is given up, and how long a call to the channel may take."""

    channel: str
    max_attempts: int
    retry_seconds: int
    deadline_minutes: int
    call_timeout_s: float


@dataclass(frozen=True)
class VisitPolicy:
    earliest: time
    latest: time
    holidays_allowed: bool
    max_per_borrower_month: int
    min_team: int
    training_max_age_days: int
    checkin_minutes: int
    escalate_minutes: int
    second_supervisor: Contact
    emergency_contacts: tuple[Contact, ...]
    alerts: AlertPolicy
    geofence_m: float
    work_start: time
    work_end: time
    service_minutes: int
    checklist: tuple[Labelled, ...]
    outcomes: tuple[Labelled, ...]
    # the visit may not start (first check-in) before its notice SMS reached the provider (default off)
    notice_required: bool = False

    def outcome(self, code: str) -> Labelled | None:
        return next((o for o in self.outcomes if o.code == code), None)


def _t(value: Any, key: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"外访政策 {key} 时间格式无效：{value}", f"visit policy {key}: bad time {value!r}",
                          code="visits.policy") from None


def _labels(raw: dict[str, Any]) -> tuple[Labelled, ...]:
    return tuple(Labelled(k, str(v["zh"]), str(v["en"])) for k, v in raw.items())


def _contact(raw: dict[str, Any]) -> Contact:
    return Contact(str(raw["name"]), str(raw["phone"]), str(raw["username"]) if raw.get("username") else None)


def _alerts(raw: dict[str, Any]) -> AlertPolicy:
    return AlertPolicy(str(raw["channel"]), int(raw["max_attempts"]), int(raw["retry_seconds"]),
                       int(raw["deadline_minutes"]), float(raw["call_timeout_seconds"]))


def parse_policy(raw: dict[str, Any]) -> VisitPolicy:
    try:
        w, team, safety, hours = raw["window"], raw["team"], raw["safety"], raw["working_hours"]
        return VisitPolicy(
            earliest=_t(w["earliest"], "window.earliest"), latest=_t(w["latest"], "window.latest"),
            holidays_allowed=bool(w["holidays_allowed"]),
            max_per_borrower_month=int(raw["max_visits_per_borrower_per_month"]),
            min_team=int(team["min_size"]), training_max_age_days=int(team["training_max_age_days"]),
            checkin_minutes=int(safety["checkin_interval_minutes"]),
            escalate_minutes=int(safety["escalate_after_minutes"]),
            second_supervisor=_contact(safety["escalation"]["second_supervisor"]),
            emergency_contacts=tuple(_contact(x) for x in safety["escalation"]["emergency_contacts"]),
            alerts=_alerts(safety["alerts"]),
            geofence_m=float(raw["geofence_radius_m"]),
            work_start=_t(hours["start"], "working_hours.start"), work_end=_t(hours["end"], "working_hours.end"),
            service_minutes=int(raw["service_minutes"]),
            checklist=_labels(raw["checklist"]), outcomes=_labels(raw["outcomes"]),
            notice_required=bool((raw.get("notice") or {}).get("required_before_start", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"外访政策缺少或无效的项：{exc}", f"visit policy: missing or invalid entry {exc}",
                          code="visits.policy") from None


@lru_cache(maxsize=4)
def load_policy(path: str | None = None) -> VisitPolicy:
    """The bundled policy, or the YAML at ``path`` (settings may point elsewhere)."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = (resources.files("dunning.data") / "policy" / "field-visits.yaml").read_text(encoding="utf-8")
    return parse_policy(yaml.safe_load(text))
