"""`dunning serve` (the web console and REST API) and the user commands it needs (`users token`, `users password`).

Wiring (in ``cli/app.py``)::

    from dunning.entrypoints.cli import serve
    app.add_typer(serve.app)                      # adds `dunning serve`
    serve.register_user_commands(users_app)       # adds `dunning users token` and `dunning users password`
"""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import ipaddress
import logging
import threading

import typer
from sqlalchemy.exc import SQLAlchemyError

from dunning.entrypoints.cli.common import (
    acting_admin,
    console,
    context,
    emit_json,
    handled,
    read_password,
    service,
)
from dunning.errors import DunningError
from dunning.services.context import AppContext

app = typer.Typer(no_args_is_help=False)
log = logging.getLogger("dunning.visits")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址（默认只监听本机）"),
    port: int = typer.Option(8000, "--port", help="端口"),
    log_level: str = typer.Option("info", "--log-level", help="日志级别"),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1", "--forwarded-allow-ips",
        help="信任其 X-Forwarded-For 的反向代理地址（逗号分隔）；核验限流按真实来访地址计数"),
    safety_tick: float = typer.Option(30.0, "--safety-tick", help="外访安全计时器间隔（秒，0 关闭；也可用 cron 调用 dunning visits tick）"),
) -> None:
    """启动网页控制台与 REST API（/api/v1，文档 /api/v1/docs）。"""
    # lazy: uvicorn, FastAPI and every page module (~3 s) load only for this command, not on every start
    import uvicorn

    from dunning.entrypoints.app import create_app

    with handled():
        ctx = context()
        web = create_app(ctx)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        console.print("[yellow]注意：对外监听时请在前面放置 HTTPS 反向代理（会话 Cookie 仅在 HTTPS 下带 Secure 标记）。[/]")
    console.print(f"控制台：http://{host}:{port}/   API 文档：http://{host}:{port}/api/v1/docs")
    stop = threading.Event()
    timer = threading.Thread(target=_safety_timer, args=(ctx, stop, safety_tick), name="visit-safety-timer",
                             daemon=True)
    if safety_tick > 0:
        timer.start()
    try:
        uvicorn.run(web, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10,
                    # Behind a reverse proxy every request comes from the proxy: the client address (which the public
                    # verification rate limit counts by) is taken from X-Forwarded-For, but only from these proxies.
                    proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips)
    finally:
        stop.set()
        if timer.is_alive():
            timer.join(10)


def _safety_timer(ctx: AppContext, stop: threading.Event, every: float) -> None:
    """The field-visit safety timer inside the server (the same tick `dunning visits tick` runs from cron)."""
    from dunning.services.visits.safety import tick

    while not stop.wait(every):
        try:
            tick(ctx)
        except DunningError as exc:  # one failed tick is logged; the next one tries again
            log.warning("visit safety tick failed: %s", exc.message_en)
        except SQLAlchemyError as exc:
            log.warning("visit safety tick failed: %s", exc)


def users_token(
    username: str = typer.Argument(..., help="用户名"),
    label: str = typer.Option("", "--label", help="令牌用途说明"),
    revoke: bool = typer.Option(False, "--revoke", help="吊销该用户的全部令牌"),
    json_out: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """为用户生成 API 令牌（只显示一次），或吊销其全部令牌。"""
    from dunning.services.identity import auth

    with service(json_out) as ctx:
        if revoke:
            n = auth.revoke_tokens(ctx, username, actor=acting_admin(ctx))
            if json_out:
                emit_json({"username": username, "revoked": n})
            else:
                console.print(f"已吊销 {username} 的 {n} 个令牌")
            return
        token = auth.issue_token(ctx, username, label=label, actor=acting_admin(ctx))
    if json_out:
        emit_json({"username": username, "token": token})
    else:
        console.print(f"API 令牌（只显示这一次，请妥善保存）：\n{token}")
        console.print("[dim]用法：curl -H 'Authorization: Bearer <令牌>' http://127.0.0.1:8000/api/v1/me[/]")


def users_password(
    username: str = typer.Argument(..., help="用户名"),
    password: str = typer.Option(None, "--password", help="新密码（不填则提示输入）"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取新密码"),
    unlock: bool = typer.Option(False, "--unlock", help="只解除登录锁定"),
) -> None:
    """设置用户的控制台登录密码（同时解除锁定）。"""
    from dunning.services.identity import auth

    with handled():
        ctx = context()
        if unlock:
            auth.unlock(ctx, username, actor=acting_admin(ctx))
            console.print(f"已解锁 {username}")
            return
        new = read_password(password, password_stdin, required=True, json_out=False)
        auth.set_password(ctx, username, new or "", actor=acting_admin(ctx))
    console.print(f"已设置 {username} 的密码")


def register_user_commands(users_app: typer.Typer) -> None:
    users_app.command("token")(users_token)
    users_app.command("password")(users_password)
