"""Every documented command given a typical wrong argument answers one clear line and a non-zero exit, never a
traceback; and the messages say what happened (pilot outside the window, approve before a pilot, codes in Chinese).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dunning.config import get_settings
from dunning.entrypoints.cli.app import app
from dunning.entrypoints.cli.common import handled

AS_OF = "2026-11-23"
MORNING = "2026-11-23T02:00:00+00:00"  # 10:00 Asia/Shanghai: inside the send window
NIGHT = "2026-11-23T15:00:00+00:00"  # 23:00 Asia/Shanghai: after it


class Result:
    def __init__(self, code: int, out: str, err: str, exception: BaseException | None) -> None:
        self.code, self.out, self.err, self.exception = code, out, err, exception

    @property
    def text(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


TEST_PASSWORD = "cli-test-password"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUNNING_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("DUNNING_SETTINGS_FILE", str(tmp_path / "none.toml"))
    monkeypatch.delenv("DUNNING_DATABASE_URL", raising=False)

    def authenticate(args: tuple[str, ...]) -> None:
        """What an administrator sets up once (issue 17.4): this OS account acts as an admin on the CLI, and a
        person named with ``--as`` proves it with their password."""
        import getpass

        from dunning.services.context import build_context
        from dunning.services.guard.identity import map_os_user, mapped_user
        from dunning.services.identity import auth
        from dunning.services.identity.users import add_user

        ctx = build_context()
        if mapped_user(ctx, getpass.getuser()) is None:
            add_user(ctx, "cli.tester", "admin", password=TEST_PASSWORD)
            map_os_user(ctx, getpass.getuser(), "cli.tester", actor="test")
        monkeypatch.delenv("DUNNING_PASSWORD", raising=False)
        if "--as" in args:
            try:
                auth.set_password(ctx, args[args.index("--as") + 1], TEST_PASSWORD, actor="test")
                monkeypatch.setenv("DUNNING_PASSWORD", TEST_PASSWORD)
            except Exception:  # noqa: BLE001 - an unknown name stays unknown: the CLI must refuse it
                pass
        ctx.db.dispose()

    def invoke(*args: str, at: str = MORNING, stdin: str | None = None) -> Result:
        monkeypatch.setenv("DUNNING_BUSINESS_TIME", at)
        get_settings.cache_clear()
        authenticate(args)
        get_settings.cache_clear()
        r = CliRunner().invoke(app, list(args), input=stdin)
        get_settings.cache_clear()
        exc = r.exception if r.exception is not None and not isinstance(r.exception, SystemExit) else None
        return Result(r.exit_code, r.stdout, r.stderr, exc)

    return invoke


def refused(r: Result, *needles: str) -> None:
    """A user error: a non-zero exit, no traceback, a message naming each needle."""
    assert r.exception is None, f"unhandled {r.exception!r}"
    assert r.code != 0, r.text
    assert "Traceback" not in r.text and r.err.strip(), r.text
    for n in needles:
        assert n in r.text, f"{n!r} not in {r.text!r}"


@pytest.fixture
def portfolio(run: Run, tmp_path: Path) -> Path:
    path = tmp_path / "portfolio.csv"
    assert run("sample", "--accounts", "400", "--seed", "3", "--as-of", AS_OF, "-o", str(path)).code == 0
    return path


def test_missing_files_are_one_line_not_a_traceback(run: Run, portfolio: Path, tmp_path: Path) -> None:
    refused(run("import", str(tmp_path / "nope.csv")), "nope.csv")
    refused(run("import", str(portfolio), "--mapping", str(tmp_path / "map.yaml")), "map.yaml")
    refused(run("import", str(portfolio), "--exclude", str(tmp_path / "dnc.txt")), "dnc.txt")
    refused(run("campaign", "plan", "--strategy", str(tmp_path / "s.yaml")), "s.yaml")
    refused(run("payments", "import", str(tmp_path / "pay.csv")), "pay.csv")
    refused(run("import", str(portfolio), "--as-of", "2026-13-01"), "YYYY-MM-DD")


def test_sample_writes_gbk_and_refuses_an_unknown_encoding(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "gbk.csv"
    r = run("sample", "--accounts", "300", "--encoding", "gbk", "-o", str(out))
    assert r.code == 0 and r.exception is None, r.text
    text = out.read_bytes().decode("gbk")  # the file really is GBK, with the yen sign GBK can hold
    assert "￥" in text and "¥" not in text
    refused(run("sample", "--accounts", "10", "--encoding", "latin-9", "-o", str(tmp_path / "x.csv")), "latin-9")


def test_unknown_ids_say_so(run: Run) -> None:
    refused(run("campaign", "show", "999"), "999")
    refused(run("campaign", "pilot", "999"), "999")
    refused(run("campaign", "report", "999"), "999")
    refused(run("campaign", "plan"), "dunning import")  # nothing imported yet
    refused(run("templates", "show", "NO_SUCH"), "NO_SUCH")


def test_users_add_without_a_terminal_and_one_password_rule(run: Run) -> None:
    refused(run("users", "add", "a.b", "--role", "operator"), "--password-stdin")
    refused(run("users", "add", "a.b", "--role", "operator", "--password", "short"), "8")
    refused(run("users", "add", "a.b", "--role", "operator", "--password-stdin", stdin="short\n"), "8")
    refused(run("users", "add", "a.b", "--role", "boss", "--password", "long-enough-1"), "boss")
    ok = run("users", "add", "a.b", "--role", "operator", "--password-stdin", stdin="long-enough-1\n")
    assert ok.code == 0 and "运营" in ok.out, ok.text
    refused(run("users", "add", "a.b", "--role", "operator", "--password", "long-enough-1"), "已存在")
    refused(run("users", "password", "a.b", "--password", "short"), "8")
    listed = run("users", "list")
    assert listed.code == 0 and "a.b" in listed.out and "运营" in listed.out and "operator" not in listed.out


def _plan(run: Run, portfolio: Path) -> dict[str, Any]:
    assert run("users", "add", "wang.ops", "--role", "operator", "--json").code == 0
    assert run("users", "add", "li.compliance", "--role", "compliance", "--json").code == 0
    assert run("import", str(portfolio), "--as-of", AS_OF, "--json").code == 0
    r = run("campaign", "plan", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.text
    plan: dict[str, Any] = r.json()
    return plan


def test_pilot_outside_the_window_is_refused_before_sending(run: Run, portfolio: Path) -> None:
    plan = _plan(run, portfolio)
    cid = str(plan["campaign_id"])
    r = run("campaign", "pilot", cid, at=NIGHT)
    refused(r, "发送时段", "09:00–20:30", "未试发")
    shown = run("campaign", "show", cid, "--json").json()
    assert shown["state"] == "planned" and "expired" not in shown["messages"]  # nothing was queued or expired


def test_approve_before_a_pilot_and_twice(run: Run, portfolio: Path) -> None:
    plan = _plan(run, portfolio)
    cid = str(plan["campaign_id"])
    r = run("campaign", "approve", cid, "--as", "li.compliance")
    refused(r, "还没有试发", f"dunning campaign pilot {cid}")
    assert "未达标" not in r.text
    pilot = run("campaign", "pilot", cid)
    assert pilot.code == 0 and "送达率" in pilot.out and "delivery_rate" not in pilot.out, pilot.text
    assert run("campaign", "approve", cid, "--as", "li.compliance").code == 0
    again = run("campaign", "approve", cid, "--as", "li.compliance")
    assert again.code == 0 and "已由 li.compliance 批准过" in again.out, again.text


def test_codes_read_in_chinese_and_same_day_campaigns_get_distinct_names(run: Run, portfolio: Path,
                                                                         tmp_path: Path) -> None:
    assert run("users", "add", "wang.ops", "--role", "operator", "--json").code == 0
    imp = run("import", str(portfolio), "--as-of", AS_OF)
    assert imp.code == 0 and "手机号无效" in imp.out and "invalid_phone" not in imp.out, imp.text
    first = run("campaign", "plan", "--as-of", AS_OF)
    assert first.code == 0 and "对照组" in first.out and "holdout" not in first.out, first.text
    # A second snapshot of the same day (one more row) gets its own campaign, with a name of its own.
    second_file = tmp_path / "portfolio2.csv"
    second_file.write_text(portfolio.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert run("import", str(second_file), "--as-of", AS_OF).code == 0
    assert run("campaign", "plan", "--as-of", AS_OF).code == 0
    names = [c["name"] for c in run("campaign", "list", "--json").json()]
    assert len(names) == 2 and len(set(names)) == 2, names


def test_a_past_as_of_says_why_nothing_is_due(run: Run, portfolio: Path) -> None:
    assert run("users", "add", "wang.ops", "--role", "operator", "--json").code == 0
    assert run("import", str(portfolio), "--as-of", "2026-11-20").code == 0
    r = run("campaign", "plan", "--as-of", "2026-11-20")
    assert r.code == 0 and "早于今天" in r.out and "2026-11-20" in r.out, r.text


def test_payments_reimport_and_a_payments_import_number_in_plan(run: Run, portfolio: Path, tmp_path: Path) -> None:
    assert run("import", str(portfolio), "--as-of", AS_OF).code == 0
    pay = tmp_path / "pay.csv"
    pay.write_text("借款编号,还款金额,还款时间\nL000000001,100.00,2026-11-22 10:00:00\n", encoding="utf-8")
    first = run("payments", "import", str(pay), "--json")
    assert first.code == 0, first.text
    again = run("payments", "import", str(pay))
    assert again.code == 0 and "导入过" in again.out and "涉及借款" not in again.out, again.text
    copy = tmp_path / "pay-copy.csv"  # the same payments in another file: every row already stored
    copy.write_text("loan_id,amount,paid_at\nL000000001,100.00,2026-11-22 10:00:00\n", encoding="utf-8")
    dup = run("payments", "import", str(copy))
    assert dup.code == 0 and "此前都已导入" in dup.out, dup.text
    refused(run("campaign", "plan", "--import", str(first.json()["import_id"])), "还款导入", "imports list")
    listed = run("imports", "list")
    assert listed.code == 0 and "还款导入" in listed.out and "账户导入" in listed.out, listed.text


def test_templates_list(run: Run, portfolio: Path) -> None:
    assert run("users", "add", "wang.ops", "--role", "operator", "--json").code == 0
    assert run("import", str(portfolio), "--as-of", AS_OF).code == 0
    assert run("campaign", "plan", "--as-of", AS_OF).code == 0  # loads the bundled templates
    r = run("templates", "list")
    assert r.code == 0 and "已批准" in r.out, r.text
    codes = [t["code"] for t in run("templates", "list", "--json").json()]
    assert codes and codes == sorted(codes)


def test_a_failed_pilot_exits_non_zero(run: Run, portfolio: Path, tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text(  # the settings file the fixture points at: a channel that mostly fails
        '[channels.sandbox]\nkind = "sandbox"\nrate = 50000.0\npriority = 100\n'
        "[channels.sandbox.options]\ndelivered_rate = 0.3\n", encoding="utf-8")
    plan = _plan(run, portfolio)
    r = run("campaign", "pilot", str(plan["campaign_id"]))
    assert r.exception is None and r.code == 1, r.text
    assert "未达标" in r.out and "✗ 送达率" in r.out, r.text


def test_the_error_code_is_printed_not_eaten_as_markup(run: Run) -> None:
    """``[campaign.not_found]`` looks like a Rich style tag: printed raw it vanished from the message."""
    code = run("campaign", "show", "999", "--json").json()["error"]["code"]
    r = run("campaign", "show", "999")
    refused(r, f"[{code}]")


def test_the_code_of_an_unnamed_mistake_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit), handled():
        raise FileNotFoundError(2, "No such file", "nope.csv")
    err = capsys.readouterr().err
    assert "[input.file_not_found]" in err and "nope.csv" in err, err


def test_the_cli_asks_for_the_role_the_console_asks_for(run: Run, portfolio: Path) -> None:
    """A compliance officer may approve but not import, plan, pilot or send; an operator may not approve —
    the same roles as the console's pages and the API's routes, in one line naming the role needed."""
    for name, role in (("zhao.ops", "operator"), ("qian.comp", "compliance")):
        assert run("users", "add", name, "--role", role, "--password-stdin", stdin="long-enough-1\n").code == 0
    refused(run("import", str(portfolio), "--as-of", AS_OF, "--as", "qian.comp"), "qian.comp", "运营")
    assert run("import", str(portfolio), "--as-of", AS_OF, "--as", "zhao.ops").code == 0
    refused(run("campaign", "plan", "--as", "qian.comp"), "运营")
    plan = run("campaign", "plan", "--json", "--as", "zhao.ops")
    assert plan.code == 0, plan.text
    cid = str(plan.json()["campaign_id"])
    refused(run("campaign", "pilot", cid, "--as", "qian.comp"), "运营")
    assert run("campaign", "pilot", cid, "--as", "zhao.ops").code == 0
    refused(run("campaign", "approve", cid, "--as", "zhao.ops"), "合规")
    assert run("campaign", "approve", cid, "--as", "qian.comp").code == 0
    refused(run("campaign", "send", cid, "--as", "qian.comp"), "运营")
    refused(run("campaign", "cancel", cid, "--as", "qian.comp"), "运营")
    paused = run("campaign", "pause", cid, "--as", "qian.comp")  # either role may stop a send
    assert "无权" not in paused.text and "「试发已批准」" in paused.text, paused.text  # states named in Chinese
