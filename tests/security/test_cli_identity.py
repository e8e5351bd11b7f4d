"""Point 4: the CLI authenticates the person; ``--as`` alone (or ``DUNNING_USER``) proves nothing, unknown names are
refused, and every audit row says how the action came (for the CLI: the OS user and host)."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dunning.config import Settings
from dunning.db.models import AuditEvent
from dunning.services.context import AppContext, build_context
from dunning.services.guard.identity import map_os_user
from dunning.services.identity import auth
from dunning.services.identity.users import add_user


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DUNNING_")}
    e.update({"DUNNING_DATA_DIR": str(tmp_path / "data"), "DUNNING_SECRET_KEY": "cli-secret",
              "DUNNING_SETTINGS_FILE": str(tmp_path / "none.toml")})
    return e


@pytest.fixture
def people(env: dict[str, str]) -> AppContext:
    ctx = build_context(Settings(data_dir=Path(env["DUNNING_DATA_DIR"]), secret_key="cli-secret"))  # type: ignore[arg-type]
    add_user(ctx, "root", "admin", password="root-password-1")
    add_user(ctx, "wang.ops", "operator", password="wang-password-1")
    add_user(ctx, "li.compliance", "compliance", password="li-password-12")
    map_os_user(ctx, getpass.getuser(), "wang.ops", actor="root")  # this OS account is wang.ops on the CLI
    return ctx


def cli(env: dict[str, str], *args: str, **extra: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "dunning.entrypoints.cli.app", *args, "--json"],
                          env={**env, **extra}, capture_output=True, text=True, timeout=120)
    return proc.returncode, (json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr})


def error(out: dict[str, Any]) -> str:
    return str(out.get("error", {}).get("code", ""))


def test_as_and_dunning_user_cannot_impersonate_nor_invent_a_person(env: dict[str, str], people: AppContext,
                                                                     tmp_path: Path) -> None:
    code, out = cli(env, "campaign", "approve", "1", "--as", "li.compliance", DUNNING_USER="li.compliance")
    assert code == 2 and error(out) == "auth.mismatch", out
    code, out = cli(env, "campaign", "approve", "1", "--as", "li.compliance", DUNNING_PASSWORD="wrong-password")
    assert code == 2 and error(out) == "auth.failed", out
    map_os_user(people, getpass.getuser(), None, actor="root")  # no mapping: a bare name proves nothing at all
    code, out = cli(env, "campaign", "plan", "--as", "ghost")
    assert code == 2 and error(out) == "auth.cli", out
    code, out = cli(env, "campaign", "approve", "1", "--as", "ghost", DUNNING_PASSWORD="anything-at-all")
    assert code == 2 and error(out) == "auth.failed", out
    with people.db.transaction() as s:
        approvals = s.scalars(select(AuditEvent).where(AuditEvent.action.like("campaign%"))).all()
    assert approvals == []


def test_token_or_password_proves_the_person(env: dict[str, str], people: AppContext) -> None:
    token = auth.issue_token(people, "li.compliance", actor="root")
    # authenticated: the command reaches the service, which says there is no campaign 99
    code, out = cli(env, "--token", token, "campaign", "approve", "99")
    assert code == 2 and error(out).startswith("not_found"), out
    code, out = cli(env, "campaign", "approve", "99", "--as", "li.compliance", DUNNING_PASSWORD="li-password-12")
    assert code == 2 and error(out).startswith("not_found"), out
    code, out = cli(env, "--token", token, "campaign", "approve", "99", "--as", "wang.ops")
    assert code == 2 and error(out) == "auth.mismatch", out
    auth.set_active(people, "li.compliance", False, actor="root")
    code, out = cli(env, "--token", token, "campaign", "approve", "99")
    assert code == 2 and error(out) == "auth.token", out


def test_audit_rows_record_the_channel_os_user_and_host(env: dict[str, str], people: AppContext) -> None:
    token = auth.issue_token(people, "root", actor="root")
    code, out = cli(env, "users", "map-os", "someone", "li.compliance", DUNNING_TOKEN=token)
    assert code == 0, out
    code, out = cli(env, "users", "map-os", "else", "li.compliance")  # wang.ops (mapped) is no administrator
    assert code == 2 and error(out) == "auth.forbidden", out
    with people.db.transaction() as s:
        row = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.map_os",
                                                 AuditEvent.entity_id == "someone")).one()
        web = s.scalars(select(AuditEvent).where(AuditEvent.action == "token.issue")).first()
    assert (row.actor, row.via, row.os_user, row.host) == ("root", "cli", getpass.getuser(), socket.gethostname())
    assert web is not None and web.via == "worker" and web.os_user is None  # in-process service call: no CLI
