"""README tells the truth: every command is named, every ADR linked, and the example files it offers work."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from dunning.entrypoints.cli.app import app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(cmd: object, prefix: str = "") -> list[str]:
    if isinstance(getattr(cmd, "commands", None), dict):  # a group (Typer ships its own click)
        out: list[str] = []
        for name, sub in cmd.commands.items():  # type: ignore[attr-defined]
            out += _commands(sub, f"{prefix} {name}".strip())
        return out
    return [prefix]


def test_every_cli_command_is_named_in_the_readme() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 20  # the walk found the tree, not one group
    lines = README.splitlines()

    def named(command: str) -> bool:
        group, *rest = command.split()
        head = re.compile(r"(dunning|\$D)\s+" + re.escape(group) + r"\b")
        return any(head.search(line) and all(re.search(rf"\b{re.escape(w)}\b", line) for w in rest)
                   for line in lines)

    missing = [c for c in commands if not named(c)]
    assert not missing, f"commands the README never names: {missing}"


def test_every_adr_is_linked_from_the_readme() -> None:
    adrs = sorted(p.name for p in (ROOT / "docs" / "adr").glob("*.md"))
    assert adrs
    assert [a for a in adrs if f"docs/adr/{a}" not in README] == []


def test_readme_example_files_exist() -> None:
    named = set(re.findall(r"`((?:examples|src/dunning/data)/[\w./-]+)`", README))
    assert {"examples/templates.yaml", "examples/company-policy.yaml", "examples/repayments.csv"} <= named
    assert [n for n in named if not (ROOT / n).exists()] == []


def test_example_templates_lint_clean_with_the_example_overlay(tmp_path: Path, monkeypatch: object) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["templates", "lint", str(ROOT / "examples" / "templates.yaml"),
                                 "--policy", str(ROOT / "examples" / "company-policy.yaml"), "--json"],
                           env={"DUNNING_DATA_DIR": str(tmp_path / ".dunning")})
    assert result.exit_code == 0, result.output
    assert '"blocked": true' not in result.output
    assert "reminder_due" in result.output and "reminder_overdue" in result.output


def test_example_threat_would_be_blocked(tmp_path: Path) -> None:
    """The commented-out example in examples/templates.yaml is what it claims: a text lint blocks."""
    text = (ROOT / "examples" / "templates.yaml").read_text(encoding="utf-8")
    body = "\n".join(line.replace("#  ", "  ", 1) for line in text.splitlines() if line.startswith("#  "))
    f = tmp_path / "bad.yaml"
    f.write_text("templates:\n" + body + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["templates", "lint", str(f), "--json"],
                                env={"DUNNING_DATA_DIR": str(tmp_path / ".dunning")})
    assert result.exit_code == 1, result.output
    assert "threatening" in result.output


def test_example_repayments_import_accepts_every_row(tmp_path: Path) -> None:
    from dunning.services.context import build_context
    from dunning.services.intake.payments import import_payments

    ctx = build_context(make_settings(tmp_path))
    try:
        s = import_payments(ctx, [ROOT / "examples" / "repayments.csv"], actor="admin")
    finally:
        ctx.db.dispose()
    assert (s.rows, s.accepted, s.rejected) == (3, 3, 0)
    assert s.total_fen == 123450 + 80000 + 200000
