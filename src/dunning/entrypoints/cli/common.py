"""Shared CLI plumbing: the service context, JSON output, and errors printed as actionable messages."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import typer
from rich.console import Console

from dunning.errors import DunningError

console = Console()
err_console = Console(stderr=True)


def default_actor() -> str:
    return os.environ.get("DUNNING_USER") or getpass.getuser()


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def emit_json(data: Any) -> None:
    sys.stdout.write(to_json(data) + "\n")


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
            err_console.print(f"[bold red]错误[/] [{exc.code}] {exc.message_zh}")
            if exc.message_en != exc.message_zh:
                err_console.print(f"[dim]{exc.message_en}[/]")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        # Ctrl-C while waiting on a peer: one clear line; what was committed stays, nothing was guessed
        err_console.print("[bold yellow]已中断[/]：已提交的结果已保存，未确认的短信保持原状态 / interrupted")
        raise typer.Exit(130) from None


def context() -> Any:
    from dunning.services.context import build_context

    return build_context()


def run(json_mode: bool, fn: Callable[[], Any]) -> Any:
    with handled(json_mode):
        return fn()
