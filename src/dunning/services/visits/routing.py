"""Route planning: a day's visits ordered into one route per two-person team by OR-Tools' vehicle routing with
time windows. Straight-line (haversine) distances at a city travel speed stand in for a road network. A visit
the solver cannot fit is listed with the reason, never silently dropped; a nearest-neighbour plan is kept as
the baseline the bench compares against."""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

SPEED_M_PER_MIN = 25_000 / 60  # 25 km/h across a city, stops and lights included
DROP_PENALTY = 10_000_000  # metres: dropping a visit costs more than any detour

REASONS = {
    "no_coordinates": ("地址没有坐标，无法排线", "the address has no coordinates"),
    "outside_hours": ("外访时段不在任何小组的工作时间内", "the visit window lies outside every team's working hours"),
    "no_team": ("登记的外访小组不在今日排班中", "the registered team is not on today's roster"),
    "unreachable": ("在时段和工作时间内没有小组能够到达", "no team can reach it within its window and working hours"),
}


@dataclass(frozen=True)
class Stop:
    id: int
    lat: float | None
    lon: float | None
    open_min: int  # local minutes since midnight: the visit may start from here
    close_min: int  # ... and must be finished by here
    service_min: int = 30
    team: str | None = None  # a registered visit stays with its registered team


@dataclass(frozen=True)
class Team:
    name: str
    lat: float
    lon: float
    start_min: int
    end_min: int
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scheduled:
    stop_id: int
    arrive_min: int
    leg_m: int


@dataclass
class RoutePlan:
    routes: dict[str, list[Scheduled]] = field(default_factory=dict)
    unassigned: list[tuple[int, str]] = field(default_factory=list)  # (stop id, reason code)
    total_m: int = 0
    seconds: float = 0.0

    @property
    def assigned(self) -> int:
        return sum(len(r) for r in self.routes.values())


def distance_matrix(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """All-pairs haversine distances in whole metres (vectorised)."""
    la, lo = np.radians(lats), np.radians(lons)
    dla = la[:, None] - la[None, :]
    dlo = lo[:, None] - lo[None, :]
    a = np.sin(dla / 2) ** 2 + np.cos(la)[:, None] * np.cos(la)[None, :] * np.sin(dlo / 2) ** 2
    return np.rint(2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))).astype(np.int64)


def _prefilter(stops: list[Stop], teams: list[Team]) -> tuple[list[Stop], list[tuple[int, str]]]:
    ok: list[Stop] = []
    out: list[tuple[int, str]] = []
    names = {t.name for t in teams}
    for s in stops:
        fits = [t for t in teams if (s.team is None or s.team == t.name)
                and max(s.open_min, t.start_min) + s.service_min <= min(s.close_min, t.end_min)]
        if s.lat is None or s.lon is None:
            out.append((s.id, "no_coordinates"))
        elif s.team is not None and s.team not in names:
            out.append((s.id, "no_team"))
        elif not fits:
            out.append((s.id, "outside_hours"))
        else:
            ok.append(s)
    return ok, out


def plan_routes(stops: list[Stop], teams: list[Team], *, time_limit_s: float = 10.0) -> RoutePlan:
    """Assign and order ``stops`` into one route per team (each route starts and ends at the team's base)."""
    started = _time.monotonic()
    plan = RoutePlan(routes={t.name: [] for t in teams})
    ok, plan.unassigned = _prefilter(stops, teams)
    if not ok or not teams:
        plan.seconds = _time.monotonic() - started
        return plan
    nt = len(teams)
    lats = np.array([t.lat for t in teams] + [s.lat for s in ok], dtype=float)
    lons = np.array([t.lon for t in teams] + [s.lon for s in ok], dtype=float)
    dist = distance_matrix(lats, lons)
    service = np.array([0] * nt + [s.service_min for s in ok], dtype=np.int64)
    travel = np.ceil(dist / SPEED_M_PER_MIN).astype(np.int64) + service[:, None]
    np.fill_diagonal(travel, 0)

    manager = pywrapcp.RoutingIndexManager(len(lats), nt, list(range(nt)), list(range(nt)))
    routing = pywrapcp.RoutingModel(manager)
    dist_cb = routing.RegisterTransitMatrix(dist.tolist())
    time_cb = routing.RegisterTransitMatrix(travel.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(dist_cb)
    horizon = 24 * 60
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for v, t in enumerate(teams):
        tdim.CumulVar(routing.Start(v)).SetRange(t.start_min, t.end_min)
        tdim.CumulVar(routing.End(v)).SetRange(t.start_min, t.end_min)
    team_index = {t.name: i for i, t in enumerate(teams)}
    for n, s in enumerate(ok, start=nt):
        idx = manager.NodeToIndex(n)
        tdim.CumulVar(idx).SetRange(s.open_min, max(s.open_min, s.close_min - s.service_min))
        if s.team is not None:
            routing.VehicleVar(idx).SetValues([-1, team_index[s.team]])  # -1: dropped
        routing.AddDisjunction([idx], DROP_PENALTY)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        plan.unassigned += [(s.id, "unreachable") for s in ok]
        plan.seconds = _time.monotonic() - started
        return plan
    seen: set[int] = set()
    for v, t in enumerate(teams):
        idx = routing.Start(v)
        prev = manager.IndexToNode(idx)
        while not routing.IsEnd(idx := solution.Value(routing.NextVar(idx))):
            node = manager.IndexToNode(idx)
            leg = int(dist[prev, node])
            plan.routes[t.name].append(Scheduled(ok[node - nt].id, int(solution.Min(tdim.CumulVar(idx))), leg))
            plan.total_m += leg
            seen.add(node)
            prev = node
        plan.total_m += int(dist[prev, v]) if prev != v else 0
    plan.unassigned += [(s.id, "unreachable") for n, s in enumerate(ok, start=nt) if n not in seen]
    plan.seconds = _time.monotonic() - started
    return plan


def nearest_neighbour(stops: list[Stop], teams: list[Team]) -> RoutePlan:
    """The baseline: each team in turn drives to the nearest visit it can still reach in time."""
    started = _time.monotonic()
    plan = RoutePlan(routes={t.name: [] for t in teams})
    ok, plan.unassigned = _prefilter(stops, teams)
    nt = len(teams)
    lats = np.array([t.lat for t in teams] + [s.lat for s in ok], dtype=float)
    lons = np.array([t.lon for t in teams] + [s.lon for s in ok], dtype=float)
    dist = distance_matrix(lats, lons) if ok else np.zeros((nt, nt), dtype=np.int64)
    left = set(range(nt, nt + len(ok)))
    for v, t in enumerate(teams):
        at, clock = v, t.start_min
        while True:
            best: tuple[int, int, int] | None = None
            for n in left:
                s = ok[n - nt]
                if s.team is not None and s.team != t.name:
                    continue
                arrive = max(clock + int(np.ceil(dist[at, n] / SPEED_M_PER_MIN)), s.open_min)
                back = arrive + s.service_min + int(np.ceil(dist[n, v] / SPEED_M_PER_MIN))
                if arrive + s.service_min <= s.close_min and back <= t.end_min and (
                        best is None or dist[at, n] < best[1]):
                    best = (n, int(dist[at, n]), arrive)
            if best is None:
                break
            n, leg, arrive = best
            plan.routes[t.name].append(Scheduled(ok[n - nt].id, arrive, leg))
            plan.total_m += leg
            left.discard(n)
            at, clock = n, arrive + ok[n - nt].service_min
        plan.total_m += int(dist[at, v]) if at != v else 0
    plan.unassigned += [(ok[n - nt].id, "unreachable") for n in sorted(left)]
    plan.seconds = _time.monotonic() - started
    return plan
