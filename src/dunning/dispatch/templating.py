"""Template-based channels at claim time: which provider template code a claimed message goes with.

Providers such as Aliyun and Tencent send only pre-registered templates; a message whose template version has
no code for the channel is ``failed`` at claim (``template_unregistered``) instead of being sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from dunning.db.bulk import Sql, json_column, run
from dunning.templates import provider_code

if TYPE_CHECKING:
    from dunning.dispatch.outbox import Claimed

TEMPLATE_UNREGISTERED = "template_unregistered"
TEMPLATE_PARAMS_MISSING = "template_params_missing"


def template_keys(name: str, channel: Any) -> tuple[str, ...]:
    """Where a claim for channel ``name`` looks up a version's provider template code in ``channel_codes``: the
    channel's name, then its kind (``aliyun``, ``tencent``); ``()`` for channels that send free text."""
    if not channel.capabilities.template_based:
        return ()
    kind = str(getattr(channel, "kind", name))
    return (name,) if kind == name else (name, kind)


def template_codes(conn: Connection, sql: Sql, rows: Sequence[Claimed], channel: str, keys: Sequence[str],
                    now: datetime) -> tuple[dict[int, str], dict[int, str], list[tuple[Any, ...]]]:
    """The provider template code of each claimed row's version (one query for the claim's versions), and the
    rows that cannot go through this channel (id → reason), with the ``(reason, detail, final_at, id)`` rows
    the caller marks ``failed``."""
    versions = sorted({int(r.template_version_id) for r in rows if r.template_version_id is not None})
    found: dict[int, tuple[str, int, Any, Any]] = {}
    if versions:
        in_v, p_v = sql.in_list(versions)
        for vid, tcode, version, channel_codes, variables in run(
                conn, sql, "SELECT v.id, t.code, v.version, v.channel_codes, v.variables FROM template_versions v "  # nosec B608  # identifiers and placeholders from code only; every value is a bound parameter
                           f"JOIN templates t ON t.id = v.template_id WHERE v.id{in_v}", p_v).all():
            found[int(vid)] = (str(tcode), int(version), json_column(channel_codes), json_column(variables))
    codes: dict[int, str] = {}
    failed: dict[int, tuple[str, str]] = {}
    for vid, (tcode, version, channel_codes, _) in found.items():
        code = provider_code(channel_codes, keys)
        if code:
            codes[vid] = code
        else:
            failed[vid] = (TEMPLATE_UNREGISTERED, unregistered_detail(tcode, version, channel))
    out: dict[int, str] = {}
    fail_rows: list[tuple[Any, ...]] = []
    ts = sql.ts(now)
    for r in rows:
        vid = r.template_version_id
        if vid is None or int(vid) not in found:
            reason, detail = TEMPLATE_UNREGISTERED, f"该短信没有模板版本，不能经模板通道 {channel} 发送"
        elif int(vid) in failed:
            reason, detail = failed[int(vid)]
        elif not r.params and found[int(vid)][3]:
            tcode, version = found[int(vid)][:2]
            reason, detail = TEMPLATE_PARAMS_MISSING, (
                f"该短信规划时未记录模板 {tcode} 版本 {version} 的变量值，不能经模板通道 {channel} 发送：请重新规划批次")
        else:
            continue
        out[r.id] = reason
        fail_rows.append((reason, detail, ts, r.id))
    return codes, out, fail_rows


def unregistered_detail(template: str, version: int, channel: str) -> str:
    return (f"模板 {template} 版本 {version} 未在通道 {channel} 登记模板编号：请用 dunning templates codes {template} "
            f"--version {version} --set {channel}=编号 登记后重新发送")
