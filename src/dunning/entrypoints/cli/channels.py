"""`dunning channels list|test|sweep|reconcile`: the configured SMS channels, a bind/auth check that sends nothing,
the delivery-report timeout sweep and an operator's reconciliation of messages whose outcome is unknown."""

# services are imported inside the commands: start-up time (see dunning.entrypoints.cli)
from __future__ import annotations

import asyncio
from typing import Any

import typer
from rich.table import Table

from dunning.config import get_settings
from dunning.entrypoints.cli.common import (
    acting_or_system,
    console,
    emit_json,
    err_console,
    handled,
    service,
)
from dunning.errors import (
    ChannelError,
    ConfigError,
    PermanentChannelError,
    RateLimitedError,
    TransientChannelError,
)

app = typer.Typer(help="短信通道：查看配置、检测连通（不发送短信） / SMS channels", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="输出 JSON / JSON output")


def _describe(name: str, cs: Any) -> dict[str, Any]:
    from dunning.channels import registry

    row: dict[str, Any] = {
        "name": name, "kind": cs.kind, "enabled": cs.enabled, "rate": cs.rate,
        "rate_unit": cs.effective_rate_unit, "priority": cs.priority,
        "fallback": cs.fallback, "capabilities": None, "problem": None,
    }
    try:
        caps = registry.capabilities_of(cs.kind)
    except ConfigError as exc:
        row["problem"] = exc.message_zh
        return row
    row["capabilities"] = {
        "max_batch": caps.max_batch, "max_rate": caps.max_rate, "free_text": caps.free_text,
        "template_based": caps.template_based, "delivery_reports": caps.delivery_reports, "inbound": caps.inbound,
        "status_query": caps.status_query,
    }
    return row


def _caps_text(caps: dict[str, Any] | None) -> str:
    if caps is None:
        return "—"
    parts = ["模板" if caps["template_based"] else "自由文本", f"每批≤{caps['max_batch']}"]
    if caps["delivery_reports"]:
        parts.append("回执")
    if caps["inbound"]:
        parts.append("上行")
    if caps["status_query"]:
        parts.append("可查询")
    return "、".join(parts)


@app.command("list")
def list_(json_out: bool = JsonOpt) -> None:
    """列出已配置的通道（类型、速率、优先级、备用通道、能力）。"""
    with handled(json_out):
        settings = get_settings()
        rows = [_describe(n, cs) for n, cs in sorted(settings.channels.items(), key=lambda kv: kv[1].priority)]
    if json_out:
        emit_json({"default": settings.default_channel, "channels": rows})
        return
    table = Table(title="短信通道 / channels")
    for col in ("名称", "类型", "启用", "速率/秒", "优先级", "备用", "能力"):
        table.add_column(col)
    for r in rows:
        name = r["name"] + (" *" if r["name"] == settings.default_channel else "")
        unit = "条分段(PDU)" if r["rate_unit"] == "parts" else "条短信"
        table.add_row(name, r["kind"], "是" if r["enabled"] else "否", f"{r['rate']:g} {unit}", str(r["priority"]),
                      r["fallback"] or "—", r["problem"] or _caps_text(r["capabilities"]))
    console.print(table)
    console.print("[dim]* 默认通道；`dunning channels test 名称` 检测连通（只绑定/认证，不发送）[/]")


async def _check(name: str, cs: Any, timeout: float) -> None:
    from dunning.channels import registry

    channel = registry.create(name, cs)
    try:
        await asyncio.wait_for(channel.check(), timeout=timeout)
    except TimeoutError:
        raise TransientChannelError(f"通道 {name} 在 {timeout:g} 秒内没有响应",
                                    f"channel {name} did not answer within {timeout:g}s") from None
    finally:
        await channel.close()


@app.command("test")
def test(
    name: str = typer.Argument(..., help="通道名称（dunning.toml 中 [channels.NAME]）"),
    timeout: float = typer.Option(15.0, "--timeout", help="超时秒数"),
    json_out: bool = JsonOpt,
) -> None:
    """检测通道连通：SMPP 绑定 + enquire_link，HTTP/云平台只做认证查询。不会发送任何短信。"""
    with handled(json_out):
        settings = get_settings()
        cs = settings.channels.get(name)
        if cs is None:
            known = "、".join(sorted(settings.channels)) or "（无）"
            raise ConfigError(f"未配置名为 {name} 的通道。已配置：{known}",
                              f"no channel named {name!r}; configured: {', '.join(sorted(settings.channels))}")
        try:
            asyncio.run(_check(name, cs, timeout))
        except PermanentChannelError as exc:
            exc.message_zh = f"通道 {name} 检测失败（需修改配置或凭据）：{exc.message_zh}"
            raise
        except RateLimitedError as exc:
            exc.message_zh = f"通道 {name} 暂时限流，请 {exc.retry_after:g} 秒后再试：{exc.message_zh}"
            raise
        except ChannelError as exc:
            exc.message_zh = f"通道 {name} 暂时无法连通（网络或对端故障，可稍后重试）：{exc.message_zh}"
            raise
    if json_out:
        emit_json({"name": name, "kind": cs.kind, "ok": True})
    else:
        console.print(f"[green]通道 {name}（{cs.kind}）连通正常[/]：已完成绑定/认证，未发送任何短信。")


@app.command("sweep")
def sweep(json_out: bool = JsonOpt) -> None:
    """把提交后超过 dlr_timeout_hours 仍无最终状态报告的短信标为“过期”（迟到的报告仍会更新状态）。可定时运行。"""
    from dunning.services.campaigns.sending import sweep_expired

    with service(json_out) as ctx:
        n = sweep_expired(ctx, actor=acting_or_system(ctx))
        hours = ctx.settings.dlr_timeout_hours
    if json_out:
        emit_json({"expired": n, "timeout_hours": hours})
    else:
        console.print(f"已将 {n} 条超过 {hours:g} 小时无状态报告的短信标为过期。")


@app.command("reconcile")
def reconcile(
    name: str = typer.Argument(..., help="通道名称"),
    json_out: bool = JsonOpt,
) -> None:
    """核对该通道上结果未知（已提交未确认、进程中断）的短信：能向通道查询的按查询结果结算，否则交给人工处理；绝不盲目重发。"""
    from dunning.services.campaigns.sending import reconcile_channel

    with service(json_out) as ctx:
        if name not in ctx.settings.channels:
            known = "、".join(sorted(ctx.settings.channels)) or "（无）"
            raise ConfigError(f"未配置名为 {name} 的通道。已配置：{known}", f"no channel named {name!r}")
        say = None if json_out else (lambda line: err_console.print(f"[dim]{line}[/]"))
        totals = reconcile_channel(ctx, name, actor=acting_or_system(ctx), on_wait=say)
    if json_out:
        emit_json({"channel": name, **totals})
    else:
        console.print(f"通道 {name} 核对完成：确认已提交 {totals['submitted']} 条，重新排队 {totals['requeued']} 条，"
                      f"待人工处理 {totals['held']} 条。")
