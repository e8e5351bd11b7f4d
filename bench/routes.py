"""Route-planning benchmark (issue #21): a day's field visits in a city, OR-Tools against nearest neighbour.

    .venv/bin/python bench/routes.py [--visits 500] [--teams 40] [--seconds 20] [--seed N]

A 40 km × 40 km city (centred on Shanghai), four team bases, working hours 08:30–20:00, 30-minute visits with
two-hour windows between 09:00 and 19:00; a few visits are made unplannable on purpose (no coordinates, a
window before working hours). Printed: the solve time (budget 30 s), visits assigned, every unassigned visit's
reason, a check that every assigned visit starts inside its window, and the total distance against a greedy
nearest-neighbour plan on the same input. Exit code 1 when a visit is outside its window or silently missing.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from dunning.services.visits.routing import REASONS, RoutePlan, Stop, Team, nearest_neighbour, plan_routes  # noqa: E402

CENTRE = (31.2304, 121.4737)
KM_LAT, KM_LON = 1 / 111.0, 1 / 95.0  # degrees per km at this latitude


def city(visits: int, teams: int, seed: int) -> tuple[list[Stop], list[Team]]:
    rnd = random.Random(seed)

    def point(spread_km: float) -> tuple[float, float]:
        return (CENTRE[0] + rnd.uniform(-spread_km, spread_km) * KM_LAT,
                CENTRE[1] + rnd.uniform(-spread_km, spread_km) * KM_LON)

    stops = []
    for i in range(visits):
        lat, lon = point(20)
        start = rnd.randrange(9 * 60, 17 * 60, 15)
        stops.append(Stop(i, lat, lon, start, start + 120, 30))
    for i in range(0, visits, 100):  # on purpose: no coordinates, and a window before working hours
        stops[i] = Stop(i, None, None, 10 * 60, 12 * 60)
        stops[i + 1] = Stop(i + 1, stops[i + 1].lat, stops[i + 1].lon, 6 * 60, 8 * 60)
    bases = [point(12) for _ in range(4)]
    crews = [Team(f"T{j:02d}", *bases[j % 4], 8 * 60 + 30, 20 * 60) for j in range(teams)]
    return stops, crews


def check(plan: RoutePlan, stops: list[Stop]) -> list[str]:
    by_id = {s.id: s for s in stops}
    bad = [f"visit {x.stop_id} starts at {x.arrive_min} outside {by_id[x.stop_id].open_min}–"
           f"{by_id[x.stop_id].close_min}" for r in plan.routes.values() for x in r
           if not by_id[x.stop_id].open_min <= x.arrive_min <= by_id[x.stop_id].close_min - by_id[x.stop_id].service_min]
    listed = {x.stop_id for r in plan.routes.values() for x in r} | {i for i, _ in plan.unassigned}
    bad += [f"visit {i} neither routed nor listed" for i in set(by_id) - listed]
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visits", type=int, default=500)
    ap.add_argument("--teams", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=20.0, help="solver time limit")
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()
    stops, teams = city(a.visits, a.teams, a.seed)
    solved = plan_routes(stops, teams, time_limit_s=a.seconds)
    greedy = nearest_neighbour(stops, teams)
    print(f"visits {a.visits}, teams {a.teams} (two people each), area 40 km x 40 km, solver limit {a.seconds:.0f} s")
    for name, p in (("OR-Tools VRPTW", solved), ("nearest neighbour", greedy)):
        reasons = Counter(r for _, r in p.unassigned)
        print(f"{name:18} {p.seconds:6.1f} s  assigned {p.assigned:4d}  unassigned {len(p.unassigned):3d} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(reasons.items())) or '—'})  "
              f"total {p.total_m / 1000:9.1f} km  per visit {p.total_m / 1000 / max(1, p.assigned):5.2f} km")
    for sid, code in solved.unassigned:
        print(f"  unassigned visit {sid:4d}: {code} — {REASONS[code][1]}")
    bad = check(solved, stops) + check(greedy, stops)
    per_s, per_g = solved.total_m / max(1, solved.assigned), greedy.total_m / max(1, greedy.assigned)
    print(f"OR-Tools vs nearest neighbour: {solved.assigned - greedy.assigned:+d} visits routed, total distance "
          f"{solved.total_m / 1000:.1f} km vs {greedy.total_m / 1000:.1f} km, per routed visit "
          f"{1 - per_s / per_g:+.1%} shorter; within 30 s: "
          f"{'yes' if solved.seconds <= 30 else 'NO'}; every routed visit inside its window: {'yes' if not bad else 'NO'}")
    for line in bad[:20]:
        print("  " + line)
    return 1 if bad or solved.seconds > 30 else 0


if __name__ == "__main__":
    raise SystemExit(main())
