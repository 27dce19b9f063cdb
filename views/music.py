"""Music: four-part chorales from MuseGAN generators, to see, hear, compare and download."""
import secrets
import time

import numpy as np
import streamlit as st

from gan_core.apps.music import midi_bytes, musicxml_bytes, render_wav
from gan_core.checkpoint import CheckpointError
from gan_core.data.music import TRACKS, VALIDATION_EVERY, MusicDataError, chorale_excerpt, chorale_paths
from gan_core.nets.musegan import track_parts
from ui import model_card
from ui.models import archs_of, cached_model, checkpoints_dir, page_models
from ui.music_plots import piano_roll
from ui.i18n import localized_choice, t

METRICS = ("EB", "UPC", "QN", "TD", "in_scale", "polyphony", "consonance")

st.title(t("music.title"))
st.caption(t("music.intro"))

found = page_models(archs_of("music"))
if not found:
    st.warning(t("music.none", folder=str(checkpoints_dir())))
    st.stop()


@st.cache_data(max_entries=64, show_spinner=False)
def _audio(roll: np.ndarray, bpm: float) -> tuple[bytes, str, float]:
    start = time.perf_counter()
    wav, synth = render_wav(roll, bpm)
    return wav, synth, time.perf_counter() - start


@st.cache_data(max_entries=32, show_spinner=False)
def _excerpt(name: str) -> tuple[np.ndarray, str]:
    return chorale_excerpt(name)


@st.cache_data(show_spinner=False)
def _validation_chorales() -> list[str]:
    return [p.stem for p in chorale_paths()[::VALIDATION_EVERY]]


def voices() -> list[str]:
    return [t(f"music.voice.{v}") for v in TRACKS]


def new_seed() -> None:
    st.session_state["m_seed"] = secrets.randbelow(1_000_000)


def listen(roll: np.ndarray, bpm: float, stem: str, key: str, downloads: bool = True) -> None:
    """The audio player, how it was made, and the downloads of one roll."""
    wav, synth, seconds = _audio(roll, bpm)
    st.audio(wav, format="audio/wav")
    st.caption(t(f"music.synth_{synth}", ms=f"{seconds * 1000:.0f}"))
    if downloads:
        cols = st.columns(3)
        cols[0].download_button(t("music.download_midi"), midi_bytes(roll, bpm), f"{stem}.mid", "audio/midi",
                                key=f"m_{key}_mid", icon=":material/piano:")
        cols[1].download_button(t("music.download_wav"), wav, f"{stem}.wav", "audio/wav", key=f"m_{key}_wav",
                                icon=":material/music_note:")
        cols[2].download_button(t("music.download_xml"), musicxml_bytes(roll, title=stem), f"{stem}.musicxml",
                                "application/vnd.recordare.musicxml+xml", key=f"m_{key}_xml",
                                icon=":material/description:")


controls, main = st.columns([1, 3], gap="large")
with controls:
    names = list(found)
    name = localized_choice(st.selectbox, t("music.model"), names, "m_model",
                            "music_hybrid" if "music_hybrid" in found else names[0],
                            lambda n: t(f"music.design.{found[n].card['model']['design']}", name=n), in_url=True)
    path, card = found[name].path, found[name].card
    st.caption(t(f"music.about.{card['model']['design']}"))
    try:
        mg = cached_model("music", path)
    except (CheckpointError, OSError) as e:
        st.error(t("errors.checkpoint", message=str(e)))
        st.stop()
    # starts at min_value (0): New seed sets it through session state, and a default beside that makes Streamlit warn
    seed = int(st.number_input(t("music.seed"), 0, 2**31 - 1, step=1, key="m_seed", bind="query-params"))
    st.button(t("music.new_seed"), on_click=new_seed, icon=":material/casino:")
    bpm = float(st.slider(t("music.tempo"), 40, 160, 80, step=5, key="m_bpm", help=t("music.tempo_help")))

with main:
    tabs = st.tabs([t("music.tab_generate"), t("music.tab_voice"), t("music.tab_interpolate"),
                    t("music.tab_metrics"), t("music.tab_real"), t("music.tab_how")])

with tabs[0]:
    start = time.perf_counter()
    roll = mg.sample(seed)[0]
    gen_ms = (time.perf_counter() - start) * 1000
    st.plotly_chart(piano_roll(roll, voices(), t("music.roll_title", name=name, seed=seed)), key="m_roll")
    st.caption(t("music.generated", ms=f"{gen_ms:.0f}", notes=int(roll.any(-1).sum())))
    listen(roll, bpm, f"{name}_seed{seed}", "gen")

with tabs[1]:
    if not track_parts(mg.design, 0):
        st.info(t("music.voice_composer"))
    else:
        st.markdown(t(f"music.voice_intro_{mg.design}"))
        c1, c2 = st.columns(2)
        voice = localized_choice(c1.radio, t("music.voice_pick"), list(range(len(TRACKS))), "m_voice", 0,
                                 lambda k: voices()[k], horizontal=True)
        other = int(c2.number_input(t("music.voice_seed"), 0, 2**31 - 1, seed + 1, step=1, key="m_voice_seed"))
        changed = mg.with_voice_from(seed, voice, other)[0]
        moved = [voices()[k] for k in range(len(TRACKS)) if not np.array_equal(changed[k], roll[k])]
        st.plotly_chart(piano_roll(changed, voices(), t("music.voice_title", voice=voices()[voice], seed=other),
                                   highlight=voice), key="m_voice_roll")
        st.caption(t("music.voice_changed", voices=", ".join(moved) or t("music.voice_none")))
        listen(changed, bpm, f"{name}_seed{seed}_{TRACKS[voice]}{other}", "voice")

with tabs[2]:
    st.markdown(t("music.interp_intro"))
    c1, c2 = st.columns(2)
    seed_b = int(c1.number_input(t("music.seed_b"), 0, 2**31 - 1, seed + 1, step=1, key="m_seed_b"))
    n_bars = int(c2.slider(t("music.bars"), 4, 16, 8, step=4, key="m_bars"))
    walk = mg.interpolate_bars(seed, seed_b, n_bars)
    st.plotly_chart(piano_roll(walk, voices(), t("music.interp_title", a=seed, b=seed_b)), key="m_interp")
    listen(walk, bpm, f"{name}_seed{seed}_to_{seed_b}", "interp")

with tabs[3]:
    st.markdown(t("music.metrics_intro"))
    rows, reference = [], None
    for other_name, other in found.items():
        m = other.card.get("metrics") or {}
        if all(k in m for k in METRICS):
            rows.append({t("music.metrics_what"): other_name, **{k: m[k] for k in METRICS}})
            reference = reference or m.get("reference")
    if reference:
        for split in ("train", "validation"):
            rows.append({t("music.metrics_what"): t(f"music.metrics_{split}"),
                         **{k: reference[split][k] for k in METRICS}})
        val = reference["validation"]
        for row in rows:
            gaps = [abs(row[k] - val[k]) / abs(val[k]) for k in ("UPC", "QN", "in_scale") if val[k]]
            row[t("music.metrics_gap")] = f"{100 * max(gaps):.0f}%"
    if rows:
        st.dataframe(rows, hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.3f")
                                                           for k in METRICS})
        st.caption(t("music.metrics_cmd"))
    else:
        st.info(t("music.metrics_none"))
    st.markdown(t("music.metrics_defs"))

with tabs[4]:
    st.markdown(t("music.real_intro"))
    names = (reference or {}).get("validation_chorales") or _validation_chorales()
    chosen = st.selectbox(t("music.real_pick"), names, key="m_chorale")
    try:
        real, stem = _excerpt(chosen)
    except MusicDataError as e:
        st.warning(t("music.real_unusable", name=chosen, reason=str(e)))
    else:
        st.plotly_chart(piano_roll(real, voices(), t("music.real_title", name=stem)), key="m_real")
        listen(real, bpm, stem, "real", downloads=False)

with tabs[5]:
    st.markdown(t("music.how"))
    model_card.summary(card)
    model_card.details(card)
