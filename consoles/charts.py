"""The studio's earnings chart: diamonds per day as an SVG line drawn on the server by pygal
(no script, nothing fetched from elsewhere), to be placed inline in the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

CHART_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#2f6fb5",),
    font_family="system-ui, sans-serif",
)


def earnings_chart(days: Sequence[Mapping[str, Any]]) -> Markup:
    """`days` (each `{day, diamonds}`, oldest first) as an inline SVG line chart."""
    chart = pygal.Line(
        style=CHART_STYLE,
        width=800,
        height=280,
        show_legend=False,
        show_dots=len(days) <= 31,
        fill=True,
        x_label_rotation=0,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(days) // 6),
        js=[],
        disable_xml_declaration=True,
        title="Diamonds earned per day",
        no_data_text="No earnings yet",
        truncate_label=-1,
        value_formatter=lambda value: f"{int(value):,}",
    )
    chart.x_labels = [str(d["day"])[5:] for d in days]  # MM-DD: the year is in the range
    chart.add("Diamonds", [int(d["diamonds"]) for d in days])
    svg = chart.render(is_unicode=True)
    return Markup(svg)  # noqa: S704 - pygal's own SVG, built from integers and dates
