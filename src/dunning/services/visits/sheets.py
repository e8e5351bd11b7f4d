"""A day's route sheets: the approved visits of the day, each kept with its registered two-person team, ordered
by the solver inside the visit windows and the policy's working hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from dunning.domain.visits import VisitState
from dunning.services.context import AppContext
from dunning.services.identity.auth import Principal
from dunning.services.visits.policy import VisitPolicy, load_policy
from dunning.services.visits.queries import VisitRow, list_visits
from dunning.services.visits.routing import REASONS, Stop, Team, plan_routes


@dataclass
class SheetStop:
    visit: VisitRow
    arrive: str
    leg_km: float


@dataclass
class Sheet:
    team: str
    members: list[str]
    stops: list[SheetStop] = field(default_factory=list)
    km: float = 0.0


@dataclass
class DaySheets:
    day: date
    sheets: list[Sheet]
    unassigned: list[tuple[VisitRow, str, str]]  # (visit, reason zh, reason en)
    total_km: float
    seconds: float


def _minutes(dt: datetime, ctx: AppContext) -> int:
    local = dt.astimezone(ctx.tz)
    return local.hour * 60 + local.minute


def _hm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _of(t: time) -> int:
    return t.hour * 60 + t.minute


def day_sheets(ctx: AppContext, p: Principal, day: date, *, time_limit_s: float = 2.0,
               policy: VisitPolicy | None = None) -> DaySheets:
    pol = policy or load_policy()
    visits = [v for v in list_visits(ctx, p, day=day) if v.state in (VisitState.APPROVED, VisitState.IN_FIELD)]
    team_of = {v.id: "+".join(v.members) for v in visits}
    names = sorted(set(team_of.values()))
    located = [v for v in visits if v.lat is not None and v.lon is not None]
    teams = []
    for n in names:
        own = [v for v in located if team_of[v.id] == n] or located
        lat = sum(v.lat for v in own if v.lat is not None) / max(1, len(own))
        lon = sum(v.lon for v in own if v.lon is not None) / max(1, len(own))
        teams.append(Team(n, lat, lon, _of(pol.work_start), _of(pol.work_end), tuple(n.split("+"))))
    stops = [Stop(v.id, v.lat, v.lon, _minutes(v.window_start, ctx), _minutes(v.window_end, ctx),
                  pol.service_minutes, team_of[v.id]) for v in visits]
    # Guided local search runs until its limit: a small day needs a fraction of a second, not the whole budget.
    plan = plan_routes(stops, teams, time_limit_s=min(time_limit_s, 0.2 + 0.02 * len(stops)))
    by_id = {v.id: v for v in visits}
    sheets = []
    for t in teams:
        route = plan.routes.get(t.name, [])
        sheet = Sheet(t.name, list(t.members), [SheetStop(by_id[x.stop_id], _hm(x.arrive_min), x.leg_m / 1000)
                                                for x in route])
        sheet.km = sum(x.leg_km for x in sheet.stops)
        sheets.append(sheet)
    unassigned = [(by_id[i], *REASONS[code]) for i, code in plan.unassigned]
    return DaySheets(day, sheets, unassigned, plan.total_m / 1000, plan.seconds)
