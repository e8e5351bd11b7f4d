"""Shared CLI plumbing: the service context, JSON output, and errors printed as actionable messages."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dunning.errors import DunningError, InputError
from dunning.services.queries.labels import zh

console = Console()
err_console = Console(stderr=True)


# set by the root command's ``--token`` option (``dunning --token … campaign approve 2``)
_TOKEN: dict[str, str | None] = {"token": None}  # nosec B105  # not a password (a constant naming a token format or slot)


def set_token(token: str | None) -> None:
    _TOKEN["token"] = token


def _credentials(ctx: Any, claimed: str | None) -> Any:
    from dunning.services.guard.identity import Credentials

    return Credentials(os_user=getpass.getuser(), claimed=claimed or None,
                       token=_TOKEN["token"] or os.environ.get("DUNNING_TOKEN") or None,
                       password=os.environ.get("DUNNING_PASSWORD"))


def acting(ctx: Any, claimed: str | None = None, *roles: Any) -> str:
    """The authenticated person running this command (``--as`` is only a claim, checked here); the audit rows
    of the command record it, with ``via = cli``, the OS user and the host. A clear error otherwise.

    ``roles``: the roles the command needs, as its console page and API route do (admin may do everything);
    anyone else gets one line saying which role it takes."""
    from dunning.services.guard.identity import authenticate
    from dunning.services.identity.auth import AuthFailed

    cred = _credentials(ctx, claimed)
    try:
        username = authenticate(ctx, cred)
    except AuthFailed as exc:
        if exc.code not in ("auth.cli", "auth.mismatch") or not cred.claimed or cred.token \
                or not sys.stdin.isatty():
            raise
        password = getpass.getpass(f"{cred.claimed} 的密码 / password: ")
        username = authenticate(ctx, replace(cred, password=password))
    if roles:
        from dunning.services.identity.users import require_role

        with ctx.db.transaction() as s:
            require_role(s, username, *roles)
    return username


def acting_principal(ctx: Any, claimed: str | None = None, *roles: Any) -> Any:
    """:func:`acting`, as the principal the services take (``via = cli``)."""
    from dunning.services.identity.auth import principal_of
    from dunning.services.identity.users import get_user

    username = acting(ctx, claimed, *roles)
    with ctx.db.transaction() as s:
        return principal_of(get_user(s, username), "cli")


def acting_or_system(ctx: Any) -> str:
    """Housekeeping a scheduler runs (sweeps, reconciliation): the authenticated person when there is one,
    else ``system`` — the audit rows still carry ``via = cli``, the OS user and the host."""
    from dunning.services.guard.identity import authenticate
    from dunning.services.identity.auth import AuthFailed

    try:
        return authenticate(ctx, _credentials(ctx, None))
    except AuthFailed:
        return "system"


def acting_admin(ctx: Any, claimed: str | None = None) -> str:
    """An authenticated administrator (or the owner of a fresh install that has none yet)."""
    from dunning.services.guard.identity import authenticate_admin

    return authenticate_admin(ctx, _credentials(ctx, claimed))


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def emit_json(data: Any) -> None:
    sys.stdout.write(to_json(data) + "\n")


def intake_table(title: str, column: str, labels: tuple[str, str, str], counts: tuple[int, int, int],
                 reasons: Mapping[str, int], *, indent: str = "  ") -> Table:
    """A table of named counts opening with an intake's read / accepted / rejected rows, then the rejects by
    reason, the most frequent first; the caller adds its own rows after."""
    t = Table(title=title)
    t.add_column("项目")
    t.add_column(column, justify="right")
    for label, n in zip(labels, counts, strict=True):
        t.add_row(label, f"{n:,}")
    for code, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        t.add_row(f"{indent}· {zh(code)}", f"{n:,}")
    return t


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"日期应为 YYYY-MM-DD：{value}") from None


@contextmanager
def handled(json_mode: bool = False) -> Iterator[None]:
    """Turn a DunningError into a clear message (and exit 2) instead of a traceback."""
    try:
        yield
    except DunningError as exc:
        if json_mode:
            emit_json({"error": exc.to_dict()})
        else:
            err_console.print(f"[bold red]错误[/] {escape(f'[{exc.code}]')} {escape(exc.message_zh)}")
            if exc.message_en != exc.message_zh:
                err_console.print(f"[dim]{escape(exc.message_en)}[/]")
        raise typer.Exit(2) from None
    except FileNotFoundError as exc:
        _fail(json_mode, "input.file_not_found", f"找不到文件：{exc.filename}", f"file not found: {exc.filename}")
    except IsADirectoryError as exc:
        _fail(json_mode, "input.is_directory", f"这是一个目录，不是文件：{exc.filename}",
              f"a directory, not a file: {exc.filename}")
    except PermissionError as exc:
        _fail(json_mode, "input.permission", f"没有权限读写：{exc.filename}", f"permission denied: {exc.filename}")
    except (UnicodeError, LookupError) as exc:
        _fail(json_mode, "input.encoding", f"编码错误：{exc}（请改用 utf-8，或用 --encoding 指定正确的编码）",
              f"encoding error: {exc} (use utf-8, or pass the right --encoding)")
    except KeyboardInterrupt:
        # Ctrl-C while waiting on a peer: one clear line; what was committed stays, nothing was guessed
        err_console.print("[bold yellow]已中断[/]：已提交的结果已保存，未确认的短信保持原状态 / interrupted")
        raise typer.Exit(130) from None


def _fail(json_mode: bool, code: str, zh: str, en: str) -> None:
    """A user mistake the services did not name (a missing file, a bad encoding): one line, exit 2."""
    if json_mode:
        emit_json({"error": {"code": code, "message_zh": zh, "message_en": en}})
    else:
        err_console.print(f"[bold red]错误[/] {escape(f'[{code}]')} {escape(zh)}")
    raise typer.Exit(2) from None


def context() -> Any:
    from dunning.services.context import build_context

    return build_context()


@contextmanager
def service(json_mode: bool = False) -> Iterator[Any]:
    """The application context for one command, its errors turned into messages as :func:`handled` does:
    ``with service(json_out) as ctx: …``."""
    with handled(json_mode):
        yield context()


def run(json_mode: bool, fn: Callable[[], Any]) -> Any:
    with handled(json_mode):
        return fn()


def read_password(password: str | None, from_stdin: bool, *, required: bool, json_out: bool) -> str | None:
    """The password from ``--password``, ``--password-stdin`` (first line), or a prompt on a terminal.

    Without a terminal and without either option the command says how to pass one instead of "Aborted."."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin：标准输入中没有密码", "--password-stdin: no password on standard input",
                             code="input.password")
        return line
    if password is not None or not required or json_out:
        return password
    if not sys.stdin.isatty():
        raise InputError("没有终端可以输入密码：请用 --password-stdin（从管道读取）或 --password 传入",
                         "no terminal to type a password: pass --password-stdin (piped) or --password",
                         code="input.password")
    entered: str = typer.prompt("密码", hide_input=True, confirmation_prompt=True)
    return entered
