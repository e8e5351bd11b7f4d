"""`dunning worker`: the Celery worker that sends campaigns when ``dispatch_mode = "celery"``.

Wiring (in ``cli/app.py``)::

    from dunning.entrypoints.cli import worker
    app.add_typer(worker.app)                     # adds `dunning worker`
"""

from __future__ import annotations

import typer

from dunning.config import get_settings
from dunning.entrypoints.cli.common import console, handled

app = typer.Typer(no_args_is_help=False)


@app.command("worker")
def worker(
    concurrency: int = typer.Option(None, "--concurrency", "-c", min=1,
                                    help="同时发送的批次数（工作进程数，默认等于 CPU 核数）"),
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="日志级别（debug / info / warning / error）"),
    pool: str = typer.Option("prefork", "--pool", "-P",
                             help="进程模型：prefork（默认，多进程）/ solo（单进程，一次一个批次）/ threads"),
) -> None:
    """启动发送 worker（Celery，broker 为 Redis 或 RabbitMQ）：dispatch_mode = "celery" 时由它发送批次。"""
    # lazy: Celery and Kombu load only for this command, not on every `dunning …` start
    from kombu.utils.url import maybe_sanitize_url

    from dunning.entrypoints.worker import create_app

    with handled():
        settings = get_settings()
        celery_app = create_app(settings)
    if settings.dispatch_mode != "celery":
        console.print(f"[yellow]注意：当前 dispatch_mode = {settings.dispatch_mode!r}，发送命令仍在本进程内发送；"
                      "要交给 worker，请设置 dispatch_mode = \"celery\"。[/]")
    console.print(f"发送 worker 已连接 broker：{maybe_sanitize_url(settings.broker_url)}")
    if pool not in ("prefork", "solo", "threads"):
        console.print("[red]--pool 只能是 prefork、solo 或 threads[/]")
        raise typer.Exit(2)
    argv = ["worker", f"--loglevel={loglevel}", f"--pool={pool}"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    celery_app.worker_main(argv)
