"""The Music page in AppTest: the shipped models, the three tabs that make music, the metrics
table, a link, and a damaged checkpoint."""
import os
import shutil
from pathlib import Path

import pytest

from apptest_helpers import open_page

CHECKPOINTS = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or Path(__file__).resolve().parents[2] / "checkpoints")

MODELS = ["music_composer", "music_hybrid", "music_jamming"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_makes_music_from_every_tab(lang):
    at = open_page("views/music.py", lang)
    assert len(at.tabs) == 6
    picker = at.selectbox(key=f"m_model__{lang}")
    assert picker.value == "music_hybrid"                                 # the default: the richest design
    assert picker.options == [f"{m} ({d})" if lang == "en" else f"{m}（{z}）" for m, d, z in
                              zip(MODELS, ["composer", "hybrid", "jamming"], ["作曲家式", "混合式", "即兴合奏式"])]
    audio = at.get("audio")
    assert len(audio) == 3 or len(audio) == 4   # generate, interpolate, a real chorale (+ one voice)
    assert sum("soundfont" in c.value.lower() or "音色库" in c.value for c in at.caption) >= 3
    table = at.dataframe[0].value
    assert len(table) == len(MODELS) + 2           # each model, then the training and validation chorales
    for column in ("EB", "UPC", "QN", "TD", "in_scale", "polyphony", "consonance"):
        assert table[column].notna().all()
    assert len(at.get("download_button")) >= 6     # MIDI, WAV, MusicXML of the sample and of the walk


def test_one_voice_changes_alone_and_the_link_holds_model_and_seed():
    at = open_page("views/music.py", m_model="music_jamming", m_seed="7")
    assert at.selectbox(key="m_model__en").value == "music_jamming"
    assert at.number_input(key="m_seed").value == 7
    at.radio(key="m_voice__en").set_value(3).run()
    assert not at.exception
    assert any(c.value == "Voices that changed: Bass." for c in at.caption)


def test_the_composer_has_no_voice_of_its_own():
    at = open_page("views/music.py", m_model="music_composer")
    assert "m_voice__en" not in [r.key for r in at.radio]
    assert any("composer" in i.value for i in at.info)


def test_a_damaged_checkpoint_is_reported_not_raised(tmp_path, monkeypatch):
    for name in ("music_hybrid",):
        for ext in (".json", ".safetensors"):
            shutil.copy(CHECKPOINTS / f"{name}{ext}", tmp_path / f"{name}{ext}")
    weights = tmp_path / "music_hybrid.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])          # truncated download
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/music.py")
    assert len(at.error) == 1 and "cannot be used" in at.error[0].value
    assert not at.tabs


def test_no_music_models_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/music.py")
    assert "configs/music_hybrid.yaml" in at.warning[0].value
