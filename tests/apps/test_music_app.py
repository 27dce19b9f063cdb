"""Music app: the note round trip (chorale -> roll -> MIDI -> roll), audio, scores, pictures,
the generator helpers on a tiny trained model, the CLI and its errors."""
import io
import json
import wave

import numpy as np
import pretty_midi
import pytest
from PIL import Image

from gan_core.apps import music
from gan_core.checkpoint import CheckpointError
from gan_core.cli import main
from gan_core.data.music import LOWEST_PITCH, chorale_excerpt
from gan_core.train import Trainer
from gan_core.train.callbacks import standard_callbacks
from gan_core.runs import RunDir


@pytest.fixture(scope="module")
def real_roll():
    roll, _ = chorale_excerpt("bwv10.7")
    return roll


def wav_of(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32767, w.getframerate()


def test_chorale_roll_midi_roll_round_trip(real_roll):
    data = music.midi_bytes(real_roll, bpm=90)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert [i.name for i in pm.instruments] == ["Soprano", "Alto", "Tenor", "Bass"]
    back = music.midi_to_roll(pm, real_roll.shape[1], bpm=90)
    assert np.array_equal(back, real_roll)
    assert sum(len(i.notes) for i in pm.instruments) == len(music.roll_notes(real_roll))


def test_roll_notes_are_runs_of_sounding_steps():
    r = np.zeros((4, 16, 48), np.uint8)
    r[0, 2:6, 24] = 1
    r[0, 8:9, 24] = 1
    r[3, 0:16, 0] = 1
    assert music.roll_notes(r) == [(3, LOWEST_PITCH, 0, 16), (0, LOWEST_PITCH + 24, 2, 6),
                                   (0, LOWEST_PITCH + 24, 8, 9)]


def test_audio_has_the_length_and_the_pitch_of_the_notes():
    r = np.zeros((4, 64, 48), np.uint8)
    r[0, :, 69 - LOWEST_PITCH] = 1                     # A4 for four bars
    for synth in ("additive", "soundfont"):
        data, used = music.render_wav(r, bpm=120, synth=synth)
        assert used == synth
        x, rate = wav_of(data)
        assert len(x) == pytest.approx((64 * 0.125 + 0.6) * rate, abs=2)   # 16ths at 120 bpm: 0.125 s
        middle = x[rate: 3 * rate]
        assert np.sqrt((middle ** 2).mean()) > 0.01                          # not silent
        spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
        peak_hz = np.argmax(spectrum) * rate / len(middle)
        assert peak_hz == pytest.approx(440, rel=0.02) or peak_hz == pytest.approx(880, rel=0.02)
        assert np.abs(x[-rate // 10:]).max() < np.abs(middle).max()         # the note has ended


def test_musicxml_score_has_the_four_voices_and_their_notes(real_roll):
    from music21 import converter
    score = converter.parseData(music.musicxml_bytes(real_roll, title="test"), format="musicxml")
    assert len(score.parts) == 4
    for k, part in enumerate(score.parts):
        notes = list(part.stripTies().flatten().notes)   # notes across a bar line are tied in the score
        mine = [n for n in music.roll_notes(real_roll) if n[0] == k]
        assert [n.pitch.midi for n in notes] == [p for _, p, _, _ in mine]
    assert score.highestTime == pytest.approx(real_roll.shape[1] / 4)


def test_roll_picture_colours_each_voice():
    r = np.zeros((4, 64, 48), np.uint8)
    r[1, 0:4, 47] = 1                                   # alto, top pitch, first beat
    img = music.roll_picture(r, cell=(6, 4))
    assert img.size == (64 * 6, 48 * 4)
    assert img.getpixel((3, 1)) == music.VOICE_COLOURS[1]
    assert img.getpixel((100, 100)) == (255, 255, 255)


@pytest.fixture
def tiny_music_checkpoint(tmp_path, tiny_music_cfg, few_chorales):
    cfg = tiny_music_cfg("model.design=hybrid")
    run = RunDir.create("tiny", root=tmp_path / "runs")
    trainer = Trainer(cfg, "cpu", data=few_chorales, callbacks=standard_callbacks(run, progress=False))
    assert trainer.fit() == "finished"
    pngs = sorted(p.name for p in run.samples.glob("*.png"))
    assert pngs == ["step_0000000.png", "step_0000002.png"] and Image.open(run.samples / pngs[-1]).width > 64 * 6
    return trainer.export(tmp_path / "music_tiny")


def test_generator_helpers(tiny_music_checkpoint):
    mg = music.load_music_generator(tiny_music_checkpoint)
    a = mg.sample(3)
    assert a.shape == (1, 4, 64, 48) and a.sum(-1).max() <= 1      # voice binarisation
    assert np.array_equal(a, mg.sample(3))                         # a seed is a piece
    changed = mg.with_voice_from(3, 2, 4)
    assert all(np.array_equal(changed[0, k], a[0, k]) for k in (0, 1, 3))
    walk = mg.interpolate_bars(3, 4, 8)
    assert walk.shape == (4, 128, 48)
    assert np.array_equal(walk[:, :16], a[0, :, :16])              # bar 1 is seed a's first bar
    assert np.array_equal(walk[:, -16:], mg.sample(4)[0, :, -16:])  # bar 8 is seed b's last bar
    m = music.evaluate_music(mg, n=20)
    assert 0 <= m["EB"] <= 1 and 0 <= m["in_scale"] <= 1


def test_music_cli_writes_midi_audio_score_and_picture(tiny_music_checkpoint, tmp_path, capsys):
    out = {k: tmp_path / f"song.{k}" for k in ("mid", "wav", "musicxml", "png")}
    assert main(["music", "sample", str(tiny_music_checkpoint), "--seed", "5", "--out", str(out["mid"]),
                 "--wav", str(out["wav"]), "--xml", str(out["musicxml"]), "--png", str(out["png"])]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["synth"] == "soundfont" and len(report["wrote"]) == 4
    pm = pretty_midi.PrettyMIDI(str(out["mid"]))
    assert sum(len(i.notes) for i in pm.instruments) == report["notes"]
    assert wav_of(out["wav"].read_bytes())[1] == music.SAMPLE_RATE
    assert Image.open(out["png"]).size == (64 * 6, 48 * 4)


def test_music_cli_and_loader_refuse_what_they_cannot_use(tiny_music_checkpoint, shipped, tmp_path, capsys):
    assert main(["music", "sample", str(shipped("mnist_dcgan")), "--out", str(tmp_path / "x.mid")]) == 2
    assert "not a music model" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="not a music model"):
        music.load_music_generator(shipped("mnist_cgan"))
    assert main(["music", "sample", str(tiny_music_checkpoint)]) == 2
    assert "nothing to write" in capsys.readouterr().err


def test_weights_of_another_design_list_the_mismatched_keys(tiny_music_checkpoint, tmp_path):
    """A card that says 'jamming' over hybrid weights: refused, and the message names the keys."""
    card = json.loads(tiny_music_checkpoint.with_suffix(".json").read_text())
    card["model"]["design"] = "jamming"
    other = tmp_path / "other.safetensors"
    other.write_bytes(tiny_music_checkpoint.read_bytes())
    other.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError) as err:
        music.load_music_generator(other)
    assert "temporal" in str(err.value)                            # the hybrid's shared G_temp is unexpected
