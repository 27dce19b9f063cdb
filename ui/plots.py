"""Plot pieces several pages share."""
from __future__ import annotations

import plotly.graph_objects as go

COLORS = ["#5b3cc4", "#d1495b", "#00798c", "#edae49"]


def curves(series: dict[str, list[tuple[int, float]]], title: str, y_label: str, height: int = 260) -> go.Figure:
    """Lines over training steps, one per name."""
    fig = go.Figure()
    for i, (name, points) in enumerate(series.items()):
        if points:
            steps, values = zip(*points)
            fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=name,
                                     line={"color": COLORS[i % len(COLORS)], "width": 1.5}))
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height, yaxis_title=y_label,
                      margin={"l": 10, "r": 10, "t": 36, "b": 10}, uirevision="curves",
                      legend={"orientation": "h", "y": -0.25})
    return fig
