"""Campaigns with a known truth, through the database, the service and the written report."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest
from typer.testing import CliRunner

from dunning.config import get_settings
from dunning.db.models import Message, Payment
from dunning.errors import NotFoundError
from dunning.reporting.settings import OutcomeSettings
from dunning.services.campaigns.outcomes import campaign_outcomes, load_outcome_frames
from dunning.services.campaigns.reports import outcome_view, write_campaign_report
from dunning.services.context import AppContext, build_context
from dunning.testing import FrozenClock
from tests.conftest import make_settings
from tests.outcomes.factories import PLANNED, Arm, seed_experiment

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REPORTS = Path(__file__).resolve().parents[2] / "test-output" / "reports"


def test_known_effect_is_found_and_the_better_variant_wins(ctx: AppContext, tmp_path: Path) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 3000, 0.06, "M1"), Arm("challenger", 3000, 0.12, "M1_b"),
                                Arm("holdout", 1000, 0.03)], seed=11)
    o = campaign_outcomes(ctx, cid)

    [v] = o.verdicts
    assert (v.kind, v.best, v.runner_up) == ("winner", "challenger", "champion")
    assert v.ci_low is not None and v.ci_high is not None and 0 < v.ci_low < 0.06 < v.ci_high
    assert v.best_n == 3000 and v.runner_up_n == 3000 and v.holdout_n == 1000
    assert v.vs_holdout_low is not None and v.vs_holdout_low > 0

    by_arm = {r["arm"]: r for r in o.by_variant.iter_rows(named=True)}
    assert by_arm["challenger"]["repayment_rate"] == pytest.approx(0.12, abs=0.015)
    assert by_arm["champion"]["repayment_rate"] == pytest.approx(0.06, abs=0.012)
    assert by_arm["holdout"]["repayment_rate"] == pytest.approx(0.03, abs=0.015)
    assert by_arm["challenger"]["significant"] and by_arm["challenger"]["method"] == "newcombe"
    assert by_arm["challenger"]["n_holdout"] == 1000

    # Kept with the test run's output (like the console's screenshots) so a person can open it.
    where = REPORTS / "known-effect"
    (where / "plotly.min.js").unlink(missing_ok=True)  # left by an older version of the report
    out = write_campaign_report(ctx, cid, where / "campaign.html")
    html = Path(out["html"]).read_text(encoding="utf-8")
    assert "M1/M1：challenger 胜出" in html and "M1/M1: challenger wins" in html
    assert "Newcombe" in html
    assert html.count('class="plotly-graph-div"') >= 4
    # One self-contained file: the chart library is inside the page, nothing beside it.
    assert not (where / "plotly.min.js").exists() and "Plotly" in html and '<script src="plotly' not in html
    sheets = zipfile.ZipFile(out["xlsx"]).namelist()
    assert sum(1 for n in sheets if n.startswith("xl/worksheets/sheet")) >= 10


def test_no_effect_declares_no_winner_and_says_how_many_accounts_it_needs(ctx: AppContext,
                                                                         tmp_path: Path) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 3000, 0.08, "M1"), Arm("challenger", 3000, 0.08, "M1_b"),
                                Arm("holdout", 1000, 0.08)], seed=12)
    o = campaign_outcomes(ctx, cid)

    [v] = o.verdicts
    assert v.ci_low is not None and v.ci_high is not None and v.ci_low < 0 < v.ci_high
    # 3,000 a side bounds the difference within ±2pp: no winner, and no point waiting for one.
    assert v.kind == "no_difference"
    assert v.needed_per_arm is None
    html = Path(write_campaign_report(ctx, cid, tmp_path / "campaign.html")["html"]).read_text(encoding="utf-8")
    assert "M1/M1：暂无胜者" in html and "no winner" in html
    assert "胜出" not in html and "wins" not in html


def test_small_arms_without_effect_say_how_many_accounts_a_verdict_needs(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 400, 0.08, "M1"), Arm("challenger", 400, 0.08, "M1_b"),
                                Arm("holdout", 100, 0.08)], seed=21)
    [v] = campaign_outcomes(ctx, cid).verdicts
    assert v.kind == "no_winner_yet"
    assert v.needed_per_arm is not None and v.needed_per_arm > 400
    assert f"每组约需 {v.needed_per_arm:,} 个账户" in v.text_zh


def test_three_arms_need_to_beat_every_other_arm(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("a", 2000, 0.10, "T_a"), Arm("b", 2000, 0.10, "T_b"),
                                Arm("c", 2000, 0.05, "T_c"), Arm("holdout", 600, 0.05)], seed=13)
    [v] = campaign_outcomes(ctx, cid).verdicts
    assert v.kind == "no_winner_yet"
    assert v.runner_up in {"a", "b"}
    assert v.confidence == pytest.approx(0.975)  # Bonferroni over two comparisons


def test_strata_are_compared_to_their_own_holdout(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 2000, 0.20, "M1"), Arm("holdout", 800, 0.18)], seed=14)
    seed_experiment(ctx, [Arm("A", 2000, 0.05, "M2"), Arm("holdout", 800, 0.01)], seed=15, segment="M2", step="M2",
                    bucket="M2", campaign_id=cid)
    o = campaign_outcomes(ctx, cid)
    up = {r["segment"]: r for r in o.by_segment.iter_rows(named=True)}
    assert up["M2"]["uplift"] == pytest.approx(0.04, abs=0.015) and up["M2"]["significant"]
    assert not up["M1"]["significant"]
    overall = o.overall.filter(pl.col("group") == "reminded").row(0, named=True)
    assert overall["method"] == "stratified-wald"
    # Equal weights here: the pooled uplift sits between the two strata's.
    assert up["M1"]["uplift"] < overall["uplift"] < up["M2"]["uplift"]
    assert {v.kind for v in o.verdicts} == {"single_arm"}
    assert set(o.by_bucket["bucket"].to_list()) == {"M1", "M2"}
    assert o.curve["arm"].unique().sort().to_list() == ["M1·champion", "M1·holdout", "M2·A", "M2·holdout"]


def test_template_that_draws_complaints_is_a_finding_even_though_it_collects(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 2000, 0.06, "M1", opt_out_rate=0.004),
                                Arm("challenger", 2000, 0.12, "M1_harsh", opt_out_rate=0.04)], seed=16)
    o = campaign_outcomes(ctx, cid)
    assert [f.subject for f in o.findings] == ["M1_harsh v1"]
    assert "即使其送达后还款率为" in o.findings[0].message_zh
    harsh = o.complaints.filter(pl.col("template") == "M1_harsh v1").row(0, named=True)
    assert harsh["opt_out_rate"] == pytest.approx(0.04, abs=0.012)


def test_times_are_read_as_utc_whatever_form_they_were_stored_in(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("A", 5, 0.0, "M1")], seed=17)
    frames = load_outcome_frames(ctx, cid)
    # send_after was bulk-inserted as 09:00+08:00, scheduled_at and submitted_at as naive UTC text.
    assert frames.planned_start == PLANNED
    assert frames.messages["sent_at"].min() > PLANNED  # type: ignore[operator]
    assert frames.messages["sent_at"].max() < PLANNED + timedelta(hours=10)  # type: ignore[operator]
    assert frames.messages.schema["sent_at"] == pl.Datetime("us", "UTC")


def test_window_still_open_is_flagged(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("A", 10, 0.5, "M1")], seed=18)
    o = campaign_outcomes(ctx, cid, OutcomeSettings(window_days=10))
    assert o.window_open_days > 2
    assert "观察期尚未结束" in o.notes_zh[0]


def test_console_gets_the_same_charts_and_tables(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 300, 0.1, "M1"), Arm("holdout", 100, 0.05)], seed=19)
    view = outcome_view(ctx, cid)
    assert {c.key for c in view.charts} >= {"funnel", "curve", "uplift", "recovery_by_bucket", "delivery_by_carrier"}
    assert all('class="plotly-graph-div"' in c.html and "<html" not in c.html for c in view.charts)
    tables = {t.key: t for t in view.tables}
    assert tables["by_variant"].header[:3] == ["分群 segment", "步骤 step", "变体 variant"]
    assert len(tables["by_variant"].rows) == 2
    # Money is shown in yuan and uplift in percentage points, on the page and in the spreadsheet alike.
    t = tables["by_variant"]
    champion = dict(zip(t.header, t.rows[0], strict=True))
    fen = view.outcomes.by_variant.filter(pl.col("arm") == "champion")["recovered_fen"].item()
    uplift = view.outcomes.by_variant.filter(pl.col("arm") == "champion")["uplift"].item()
    assert fen > 0 and champion["回收金额 recovered"] == f"¥{fen / 100:,.2f}"
    assert champion["提升(百分点) uplift pp"] == f"{uplift * 100:+.1f}"
    assert t.frame["回收金额 recovered"][0] == pytest.approx(fen / 100)


def test_unknown_campaign_is_a_not_found_error(ctx: AppContext) -> None:
    with pytest.raises(NotFoundError):
        campaign_outcomes(ctx, 999)


def test_cli_writes_the_report(ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dunning.entrypoints.cli.app import app

    cid = seed_experiment(ctx, [Arm("champion", 200, 0.1, "M1"), Arm("holdout", 100, 0.05)], seed=20)
    env = {"DUNNING_DATA_DIR": str(ctx.settings.data_dir), "DUNNING_SECRET_KEY": "test-secret-key",
           "DUNNING_BUSINESS_TIME": datetime(2026, 11, 30, tzinfo=UTC).isoformat()}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["campaign", "report", str(cid), "--out", str(tmp_path / "x.html"),
                                          "--json"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    paths = json.loads(result.output)
    assert Path(paths["html"]).exists() and Path(paths["xlsx"]).exists()


@pytest.fixture
def pg_ctx(tmp_path: Path, clock: FrozenClock) -> Iterator[AppContext]:
    name = f"dunning_outcomes_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    settings = make_settings(tmp_path / "pg")
    settings.database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    c = build_context(settings, clock=clock.now)
    try:
        yield c
    finally:
        c.db.dispose()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgresql_gives_the_same_outcomes_as_sqlite(ctx: AppContext, pg_ctx: AppContext) -> None:
    arms = [Arm("champion", 400, 0.06, "M1", opt_out_rate=0.01), Arm("challenger", 400, 0.15, "M1_b"),
            Arm("holdout", 150, 0.03)]
    lite = campaign_outcomes(ctx, seed_experiment(ctx, arms, seed=22))
    pg = campaign_outcomes(pg_ctx, seed_experiment(pg_ctx, arms, seed=22))
    assert load_outcome_frames(pg_ctx, 1).anchor() == PLANNED
    assert pg.verdict_table.drop("text_zh", "text_en").equals(lite.verdict_table.drop("text_zh", "text_en"))
    assert pg.by_variant.equals(lite.by_variant)
    assert pg.attribution.equals(lite.attribution)
    assert pg.complaints.equals(lite.complaints)


def test_a_later_campaigns_delivery_takes_the_credit(ctx: AppContext) -> None:
    first = seed_experiment(ctx, [Arm("A", 3, 0.0, "M1")], seed=23)
    second = seed_experiment(ctx, [Arm("A", 3, 0.0, "M2")], seed=24)
    with ctx.db.transaction() as s:
        loans = [m.loan_id for m in s.query(Message).filter_by(campaign_id=first).order_by(Message.id)]
        # The second campaign reminds the first campaign's first loan two days later; that loan pays on day 3.
        late = s.query(Message).filter_by(campaign_id=second).order_by(Message.id).first()
        assert late is not None
        late.loan_id = loans[0]
        late.state = "delivered"
        late.submitted_at = PLANNED + timedelta(days=2)
        s.add_all([Payment(loan_id=loans[0], amount_fen=100_000, paid_at=PLANNED + timedelta(days=3)),
                   Payment(loan_id=loans[1], amount_fen=40_000, paid_at=PLANNED + timedelta(days=1))])
    first_o = campaign_outcomes(ctx, first)
    second_o = campaign_outcomes(ctx, second)
    split = dict(first_o.attribution.select("attribution", "payments").iter_rows())
    assert split == {"other_campaign": 1, "this_campaign_partial": 1}
    assert dict(second_o.attribution.select("attribution", "payments").iter_rows()) == {"this_campaign_full": 1}
    # Intention to treat is not about credit: the first campaign's account still repaid within its window.
    assert first_o.units.filter(pl.col("loan_id") == loans[0])["repaid"].item()


def test_the_curve_draws_observed_days_only_and_every_uplift_says_its_verdict(ctx: AppContext,
                                                                             clock: FrozenClock) -> None:
    # A small hold-out (n = 40): the headline uplift's interval spans zero, so it must say "not significant".
    cid = seed_experiment(ctx, [Arm("champion", 400, 0.10, "M1"), Arm("holdout", 40, 0.08)], seed=31)
    clock.at = PLANNED + timedelta(days=3, hours=5)  # three whole days after the planned send
    o = campaign_outcomes(ctx, cid)
    assert o.curve_observed_days == 3 and int(o.curve["day"].max()) == 3  # day 4…14 have not happened yet
    view = outcome_view(ctx, cid)
    curve = next(c for c in view.charts if c.key == "curve")
    assert "已观察 3 天，共 14 天" in curve.title and "3 of 14 days observed" in curve.title
    reminded = o.overall.filter(pl.col("group") == "reminded").row(0, named=True)
    assert reminded["ci_low"] < 0 < reminded["ci_high"]
    card = dict(view.cards)["相对对照组提升 uplift"]
    assert "不显著 not significant" in card and "[" in card
    uplift = next(c for c in view.charts if c.key == "uplift")
    assert json.dumps("不显著 not significant")[1:-1] in uplift.html  # Plotly writes its JSON \u-escaped


def test_an_empty_funnel_stage_says_why(ctx: AppContext) -> None:
    cid = seed_experiment(ctx, [Arm("champion", 200, 0.0, "M1"), Arm("holdout", 50, 0.0)], seed=32)
    o = campaign_outcomes(ctx, cid)
    stages = dict(zip([label for label, _n in o.funnel], o.funnel_why, strict=True))
    repaid = next(label for label in stages if "还款" in label)
    assert dict(o.funnel)[repaid] == 0 and stages[repaid]  # zero, with a reason
    funnel = next(c for c in outcome_view(ctx, cid).charts if c.key == "funnel")
    assert json.dumps(stages[repaid])[1:-1] in funnel.html
