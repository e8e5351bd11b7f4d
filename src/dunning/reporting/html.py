"""Campaign report as a self-contained HTML page with charts.

Plotly writes its JavaScript once as ``plotly.min.js`` beside the report (no CDN: the report opens offline).
Tables are escaped by Jinja2's autoescape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape

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
</style>
<script src="plotly.min.js"></script></head><body>
<h1>{{ title }}</h1>
<div class="cards">{% for label, value in cards %}<div class="card"><b>{{ value }}</b><span>{{ label }}</span></div>{% endfor %}</div>
{% for chart in charts %}<div class="chart">{{ chart | safe }}</div>{% endfor %}
{% for t in tables %}<h2>{{ t.title }}</h2><table><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endfor %}
<footer>{{ footer }}</footer></body></html>"""


def funnel_chart(stages: list[tuple[str, int]], title: str) -> str:
    fig = go.Figure(go.Funnel(y=[s for s, _ in stages], x=[v for _, v in stages], textinfo="value+percent initial"))
    fig.update_layout(title=title, margin={"l": 120, "r": 20, "t": 50, "b": 20}, height=360)
    return str(fig.to_html(full_html=False, include_plotlyjs=False))


def bar_chart(categories: list[str], series: dict[str, list[int]], title: str) -> str:
    fig = go.Figure([go.Bar(name=name, x=categories, y=values) for name, values in series.items()])
    fig.update_layout(title=title, barmode="stack", margin={"l": 40, "r": 20, "t": 50, "b": 40}, height=360)
    return str(fig.to_html(full_html=False, include_plotlyjs=False))


def write_report(path: Path, *, title: str, cards: list[tuple[str, Any]], charts: list[str],
                 tables: list[dict[str, Any]], footer: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    js = path.parent / "plotly.min.js"
    if not js.exists():
        # write_html with include_plotlyjs="directory" drops plotly.min.js beside the file it writes.
        go.Figure().write_html(str(path.parent / ".plotly-bootstrap.html"), include_plotlyjs="directory")
        (path.parent / ".plotly-bootstrap.html").unlink(missing_ok=True)
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_PAGE).render(title=title, cards=cards, charts=charts, tables=tables, footer=footer)
    path.write_text(html, encoding="utf-8")
    return path
