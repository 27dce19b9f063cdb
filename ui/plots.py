"""Plot pieces several pages share."""
from __future__ import annotations

import plotly.graph_objects as go

COLORS = ["#5b3cc4", "#d1495b", "#00798c", "#edae49"]


def curves(series: dict[str, list[tuple[int, float]]], title: str, y_label: str, height: int = 260,
           markers: bool = False, y_format: str | None = None) -> go.Figure:
    """Lines over training steps, one per name. `markers` marks every point (for figures measured
    now and then, where each point is a measurement); a series of one point is always a marker, as a
    line through one point draws nothing. `y_format` is a d3 format for the y axis (".0%")."""
    fig = go.Figure()
    for i, (name, points) in enumerate(series.items()):
        if points:
            steps, values = zip(*points)
            color = COLORS[i % len(COLORS)]
            mode = "lines+markers" if markers or len(points) == 1 else "lines"
            fig.add_trace(go.Scatter(x=steps, y=values, mode=mode, name=name,
                                     line={"color": color, "width": 1.5}, marker={"color": color, "size": 7}))
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height, yaxis_title=y_label,
                      margin={"l": 10, "r": 10, "t": 36, "b": 10}, uirevision="curves",
                      legend={"orientation": "h", "y": -0.25})
    if y_format:
        fig.update_yaxes(tickformat=y_format)
    steps = {x for points in series.values() for x, _ in points}
    if len(steps) == 1:  # one measurement: its step as the only tick, not 199.5, 200, 200.5
        fig.update_xaxes(tickvals=list(steps))
    return fig
