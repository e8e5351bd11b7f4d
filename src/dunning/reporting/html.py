"""Campaign report as a self-contained HTML page with charts.

Plotly's JavaScript is inlined in the page: one file that shows its charts when emailed or opened offline (no
CDN, no sidecar). Tables are escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from dunning.domain.carriers import CARRIER_ZH
from dunning.reporting.settings import HOLDOUT


@dataclass(frozen=True)
class TextBlock:
    """A titled text section; ``kind`` styles it: "win", "warn", "note" or "" (plain)."""

    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    kind: str = ""

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:24px;color:#1f2937;background:#f8fafc}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#6b7280;font-size:13px}
table{border-collapse:collapse;background:#fff;margin-top:8px}td,th{border:1px solid #e5e7eb;padding:6px 10px;text-align:right}
th{background:#f1f5f9}td:first-child,th:first-child{text-align:left}.chart{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin-top:12px}
footer{color:#6b7280;font-size:12px;margin-top:32px}
.block{background:#fff;border:1px solid #e5e7eb;border-left:4px solid #64748b;border-radius:8px;padding:4px 16px}
.block.win{border-left-color:#16a34a}.block.warn{border-left-color:#dc2626}.block.note{border-left-color:#2563eb}
.block small{color:#6b7280}.scroll{overflow-x:auto;max-width:100%}th{font-weight:600;font-size:13px}
</style>
<script>{{ plotly_js }}</script></head><body>
<h1>{{ title }}</h1>
<div class="cards">{% for label, value in cards %}<div class="card"><b>{{ value }}</b><span>{{ label }}</span></div>{% endfor %}</div>
{% for b in blocks %}<h2>{{ b.title }}</h2><div class="block {{ b.kind }}">{% for zh, en in b.lines %}<p>{{ zh }}{% if en %}<br><small>{{ en }}</small>{% endif %}</p>{% endfor %}</div>{% endfor %}
{% for chart in charts %}<div class="chart">{{ chart | safe }}</div>{% endfor %}
{% for t in tables %}<h2>{{ t.title }}</h2><div class="scroll"><table><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table></div>{% endfor %}
<footer>{{ footer }}</footer></body></html>"""


def funnel_chart(stages: list[tuple[str, int]], title: str) -> str:
    fig = go.Figure(go.Funnel(y=[s for s, _ in stages], x=[v for _, v in stages], textinfo="value+percent initial"))
    fig.update_layout(title=title, margin={"l": 120, "r": 20, "t": 50, "b": 20}, height=360)
    return _fragment(fig)


def bar_chart(categories: list[str], series: dict[str, list[int]], title: str) -> str:
    fig = go.Figure([go.Bar(name=name, x=categories, y=values) for name, values in series.items()])
    fig.update_layout(title=title, barmode="stack", margin={"l": 40, "r": 20, "t": 50, "b": 40}, height=360)
    return _fragment(fig)


def write_report(path: Path, *, title: str, cards: list[tuple[str, Any]], charts: list[str],
                 tables: list[dict[str, Any]], footer: str = "", blocks: list[TextBlock] | None = None) -> Path:
    """Write the page to ``path``: one self-contained file (Plotly inlined). ``blocks`` are text sections shown
    under the cards (verdicts, findings, method notes), each line Chinese with an optional English line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(title=title, cards=cards, charts=charts, tables=tables, footer=footer,
                                  blocks=blocks), encoding="utf-8")
    return path


def render_report(*, title: str, cards: list[tuple[str, Any]], charts: list[str], tables: list[dict[str, Any]],
                  footer: str = "", blocks: list[TextBlock] | None = None) -> str:
    """The report page as one HTML string with its JavaScript inlined."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_PAGE).render(title=title, cards=cards, charts=charts, tables=tables, footer=footer,
                                         blocks=blocks or [], plotly_js=Markup(plotly_js()))  # nosec B704  # the bundled Plotly library, not user data


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """Plotly's JavaScript, for a page that embeds the chart fragments (inlined or served; no CDN)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


# Chart labels are written "中文 English". The report file keeps both; a page shown in one language (the console)
# renders its charts inside ``chart_language("zh" | "en")`` so legends, titles and axes follow that language.
_LANG: ContextVar[str] = ContextVar("chart_language", default="both")
_BILINGUAL = re.compile(r"^(.*?[\u3000-\u9fff\uff00-\uffef][^A-Za-z]*?)\s+([A-Za-z(].*)$", re.S)


@contextmanager
def chart_language(lang: str) -> Iterator[None]:
    token = _LANG.set(lang if lang in ("zh", "en") else "both")
    try:
        yield
    finally:
        _LANG.reset(token)


def pick_label(text: Any, lang: str | None = None) -> Any:
    """The Chinese or the English half of a "中文 English" label (anything else unchanged)."""
    lang = lang or _LANG.get()
    if lang == "both" or not isinstance(text, str):
        return text
    m = _BILINGUAL.match(text)
    if m is None:
        return text
    return m.group(1).strip() if lang == "zh" else m.group(2).strip()


def _localise(fig: go.Figure) -> None:
    if _LANG.get() == "both":
        return
    for t in fig.data:
        t.name = pick_label(t.name)
        for axis in ("x", "y"):
            values = getattr(t, axis, None)
            if values is not None and len(values) and isinstance(values[0], str):
                setattr(t, axis, [pick_label(v) for v in values])
    fig.layout.title.text = pick_label(fig.layout.title.text)
    fig.layout.xaxis.title.text = pick_label(fig.layout.xaxis.title.text)
    fig.layout.yaxis.title.text = pick_label(fig.layout.yaxis.title.text)
    for a in fig.layout.annotations or ():
        a.text = pick_label(a.text)


def _fragment(fig: go.Figure) -> str:
    _localise(fig)
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


_ARM_ZH = {HOLDOUT: "对照组 hold-out", "reminded": "发送组 reminded"}


def arm_label(arm: str) -> str:
    """Display name of an arm: the hold-out and the reminded group get Chinese names; variants keep theirs."""
    if arm.endswith(f"·{HOLDOUT}"):
        return arm[: -len(HOLDOUT)] + _ARM_ZH[HOLDOUT]
    return _ARM_ZH.get(arm, arm)


def repayment_curve_chart(curve: pl.DataFrame, window_days: int, title: str) -> str:
    """Cumulative share repaid by day since the planned send, one line per arm; the hold-out dashed grey. The
    caller passes observed days only: a day still in the future is never drawn as flat data."""
    fig = go.Figure()
    dashes = iter(["dash", "dot", "dashdot", "longdash", "longdashdot"] * 20)
    for (arm,), part in curve.sort("arm", "day").group_by("arm", maintain_order=True):
        is_hold = str(arm).endswith(HOLDOUT)
        fig.add_trace(go.Scatter(
            x=part["day"].to_list(), y=(part["share"] * 100).to_list(), mode="lines+markers",
            name=f"{arm_label(str(arm))} (n={part['accounts'][0]:,})",
            line={"dash": next(dashes), "color": "#6b7280"} if is_hold else {},
        ))
    last = int(curve["day"].cast(pl.Int64).max() or 0) if curve.height else 0  # type: ignore[arg-type]
    if window_days <= last:
        fig.add_vline(x=window_days, line={"dash": "dot", "color": "#94a3b8"},
                      annotation_text=f"归因窗口 {window_days} 天 window")
    fig.update_layout(title=title, xaxis_title="距计划发送天数 days since planned send",
                      yaxis_title="已还款账户占比 % repaid", margin={"l": 60, "r": 20, "t": 50, "b": 50},
                      height=400, legend={"orientation": "h", "y": -0.25})
    return _fragment(fig)


def uplift_verdict(low: float, high: float) -> str:
    """A figure's verdict from its interval: significant only when the interval leaves zero out."""
    if low > 0:
        return "显著提升 significant gain"
    if high < 0:
        return "显著下降 significant loss"
    return "不显著 not significant"


def uplift_chart(rows: list[tuple[str, float, float, float]], title: str) -> str:
    """Uplift over the hold-out in percentage points with its interval, one bar per (label, uplift, low, high);
    each bar carries its verdict ("不显著 not significant" when the interval spans zero) and its own error bar."""
    labels = [r[0] for r in rows]
    ups = [r[1] * 100 for r in rows]
    fig = go.Figure(go.Bar(
        x=labels, y=ups, text=[f"{r[1] * 100:+.1f}pp · {uplift_verdict(r[2], r[3])}" for r in rows],
        textposition="outside", cliponaxis=False,
        marker_color=["#16a34a" if r[2] > 0 else "#dc2626" if r[3] < 0 else "#94a3b8" for r in rows],
        error_y={"type": "data", "symmetric": False, "array": [(r[3] - r[1]) * 100 for r in rows],
                 "arrayminus": [(r[1] - r[2]) * 100 for r in rows]},
    ))
    fig.add_hline(y=0, line={"color": "#475569"})
    fig.update_layout(title=title, yaxis_title="相对对照组提升（百分点）uplift, pp",
                      margin={"l": 60, "r": 20, "t": 50, "b": 60}, height=380)
    return _fragment(fig)


def recovery_by_bucket_chart(by_bucket: pl.DataFrame, title: str) -> str:
    """Recovery rate (amount recovered ÷ amount due) per DPD bucket, reminded arms beside the hold-out."""
    fig = go.Figure()
    for (group,), part in by_bucket.group_by("group", maintain_order=True):
        fig.add_trace(go.Bar(
            name=arm_label(str(group)), x=part["bucket"].to_list(), y=(part["recovery_rate"] * 100).to_list(),
            text=[f"¥{v / 100:,.0f}" for v in part["recovered_fen"].to_list()], textposition="outside",
            marker_color="#6b7280" if group == HOLDOUT else None,
        ))
    fig.update_layout(title=title, barmode="group", yaxis_title="回收率 % of amount due",
                      xaxis_title="逾期阶段 DPD bucket", margin={"l": 60, "r": 20, "t": 50, "b": 50}, height=380)
    return _fragment(fig)


def delivery_by_carrier_chart(delivery: pl.DataFrame, title: str) -> str:
    """Delivered, failed, expired and held per carrier (all channels together), stacked."""
    per = delivery.group_by("carrier").agg(pl.col("delivered", "failed", "expired", "held", "in_flight").sum()
                                           ).sort("carrier")
    labels = [CARRIER_ZH.get(c, c) for c in per["carrier"].to_list()]
    names = {"delivered": "已送达 delivered", "failed": "失败 failed", "expired": "过期 expired",
             "held": "待处理 held", "in_flight": "等待回执 in flight"}
    colors = {"delivered": "#16a34a", "failed": "#dc2626", "expired": "#f59e0b", "held": "#7c3aed",
              "in_flight": "#94a3b8"}
    fig = go.Figure([go.Bar(name=names[c], x=labels, y=per[c].to_list(), marker_color=colors[c]) for c in names])
    fig.update_layout(title=title, barmode="stack", margin={"l": 60, "r": 20, "t": 50, "b": 60}, height=380)
    return _fragment(fig)
