"""Piano-roll figures for the Music page."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gan_core.apps.music import VOICE_COLOURS, roll_notes
from gan_core.data.music import LOWEST_PITCH, N_PITCHES, STEPS_PER_BAR, STEPS_PER_BEAT

NOTE_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")


def note_name(midi: int) -> str:
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def piano_roll(roll: np.ndarray, voices: list[str], title: str = "", height: int = 340,
               highlight: int | None = None) -> go.Figure:
    """Each note a bar from its start to its end at its pitch, one colour per voice; time in beats.
    `highlight` (a voice index) draws the other voices faded."""
    fig = go.Figure()
    notes = roll_notes(roll)
    for k, name in enumerate(voices):
        mine = [n for n in notes if n[0] == k]
        r, g, b = VOICE_COLOURS[k % len(VOICE_COLOURS)]
        alpha = 0.25 if highlight is not None and highlight != k else 0.9
        fig.add_trace(go.Bar(
            orientation="h", name=name,
            base=[s / STEPS_PER_BEAT for _, _, s, _ in mine],
            x=[(e - s) / STEPS_PER_BEAT for _, _, s, e in mine],
            y=[p for _, p, _, _ in mine], width=0.8,
            marker={"color": f"rgba({r},{g},{b},{alpha})", "line": {"width": 0}},
            customdata=[[note_name(p), s / STEPS_PER_BEAT + 1, (e - s) / STEPS_PER_BEAT] for _, p, s, e in mine],
            hovertemplate=f"{name}: %{{customdata[0]}}, beat %{{customdata[1]:.2f}}, "
                          "%{customdata[2]:.2f} beats<extra></extra>"))
    beats = roll.shape[1] / STEPS_PER_BEAT
    for bar in np.arange(0, beats + 1e-9, STEPS_PER_BAR / STEPS_PER_BEAT):
        fig.add_vline(x=float(bar), line={"color": "#bbbbbb", "width": 1})
    octaves = list(range(LOWEST_PITCH, LOWEST_PITCH + N_PITCHES + 1, 12))
    fig.update_layout(
        title={"text": title, "font": {"size": 14}}, height=height, barmode="overlay", bargap=0,
        xaxis={"title": "beat", "range": [0, beats], "dtick": 1, "showgrid": False},
        yaxis={"range": [LOWEST_PITCH - 0.5, LOWEST_PITCH + N_PITCHES - 0.5], "tickvals": octaves,
               "ticktext": [note_name(p) for p in octaves], "gridcolor": "#eeeeee"},
        margin={"l": 10, "r": 10, "t": 36 if title else 10, "b": 10},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        plot_bgcolor="white")
    return fig
