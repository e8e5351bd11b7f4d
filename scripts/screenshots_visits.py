"""Screenshots of the field-visit pages for the docs (issue 21): the live board with an alarm escalated to the
second supervisor, and the team's mobile field page. Not part of `make test`; re-run it after a UI change:

    PYTHONPATH=src .venv/bin/python scripts/screenshots_visits.py [--out docs/screenshots]

It builds a throw-away installation in a temporary directory (SQLite, sandbox channel, a frozen business clock on
Monday 2026-11-23 10:00 Shanghai time), seeds the demo's visits, lets the safety timer escalate the missed
check-in once, serves the console on 127.0.0.1 and drives Debian's Chromium with Playwright (the launcher of
tests/web/browser.py)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.web.browser import CHROMIUM, chromium, login, serve  # noqa: E402

from dunning.config import ChannelSettings, Settings  # noqa: E402
from dunning.entrypoints.api import create_app  # noqa: E402
from dunning.services.bootstrap import ensure_bundled_templates  # noqa: E402
from dunning.services.context import build_context  # noqa: E402
from dunning.services.identity.users import add_user  # noqa: E402
from dunning.services.intake.imports import import_portfolio  # noqa: E402
from dunning.services.visits import queries, safety  # noqa: E402
from dunning.services.visits.demo import DEMO_FIELD_USERS, SPOTS, seed_demo_visits  # noqa: E402
from dunning.services.visits.policy import load_policy  # noqa: E402
from dunning.testing import FrozenClock, generate_portfolio  # noqa: E402

PASSWORD = "screenshot-pass-1"


def _login(browser: object, base: str, username: str, **context: object) -> object:
    return login(browser, base, username, PASSWORD, **context)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        print(f"needs Debian's chromium at {CHROMIUM} (scripts/setup-test-env.sh)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo("Asia/Shanghai")
    day = datetime(2026, 11, 23, 10, 0, tzinfo=tz)
    clock = FrozenClock(day.astimezone(UTC))  # stored times are UTC (as the real clock gives them)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / ".dunning", secret_key="screenshots",  # type: ignore[arg-type]
                            channels={"sandbox": ChannelSettings(kind="sandbox", options={"seed": 7})})
        ctx = build_context(settings, clock=clock.now)
        ensure_bundled_templates(ctx)
        for username, name, role in DEMO_FIELD_USERS:
            add_user(ctx, username, role.value, password=PASSWORD, display_name=name)
        sample = Path(tmp) / "portfolio.csv"
        generate_portfolio(50, seed=2026, as_of=day.date()).write_csv(sample)
        imp = import_portfolio(ctx, [sample], as_of=day.date(), actor="system")
        seed_demo_visits(ctx, imp.import_id, print)
        clock.advance(minutes=load_policy().escalate_minutes)
        r = safety.tick(ctx)  # nobody acknowledged: level 2, the alert SMS to the second supervisor (sandbox)
        print(f"escalated {r.escalated}, alert SMS sent {r.alerts.sent}")
        boss = next(u for u, _n, _r in DEMO_FIELD_USERS if u == load_policy().second_supervisor.username)
        from dunning.services.identity.auth import Principal
        from dunning.services.identity.users import Role

        admin = Principal("screenshots", "s", Role.ADMIN)
        in_field = next(v for v in queries.list_visits(ctx, admin) if v.state == "in_field")
        with serve(create_app(ctx)) as base, chromium() as browser:
            board = _login(browser, base, boss, viewport={"width": 1280, "height": 860})
            board.goto(f"{base}/visits/board")  # type: ignore[attr-defined]
            board.locator("[data-alarm] [data-testid=to-me]").first.wait_for()  # type: ignore[attr-defined]
            board.screenshot(path=str(args.out / "visits-live-board.png"), full_page=True)  # type: ignore[attr-defined]
            lat, lon, _addr = SPOTS[0]
            phone = _login(browser, base, "zhao.lead", viewport={"width": 390, "height": 844}, is_mobile=True,
                           has_touch=True, geolocation={"latitude": lat, "longitude": lon},
                           permissions=["geolocation"])
            phone.goto(f"{base}/field/visits/{in_field.id}")  # type: ignore[attr-defined]
            phone.screenshot(path=str(args.out / "visits-field-mobile.png"), full_page=True)  # type: ignore[attr-defined]
    print(f"saved {args.out / 'visits-live-board.png'} and {args.out / 'visits-field-mobile.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
