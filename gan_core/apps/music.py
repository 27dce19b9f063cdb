"""Music from a trained MuseGAN: sample, change one voice, interpolate, and turn piano rolls into
MIDI, MusicXML, audio and pictures, all offline.

Audio: the General MIDI SoundFont inside the pretty_midi wheel, rendered by tinysoundfont;
where tinysoundfont or the SoundFont is missing, a plain additive synthesiser in numpy (named in
`render_wav`'s result).
"""
from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from ..checkpoint import CheckpointError
from ..data.music import chorale_dataset
from ..data.music import LOWEST_PITCH, STEPS_PER_BAR, STEPS_PER_BEAT, TRACKS, VOICE_COLOURS, roll_picture  # noqa: F401 (the page API)
from ..metrics.music import music_metrics
from ..nets.musegan import binarize, track_parts
from ..sampling import LoadedGenerator, load_generator, slerp

VOICE_PROGRAMS = (52, 52, 52, 52)          # General MIDI "Choir Aahs" for all four voices
SAMPLE_RATE = 22050


# ---------------------------------------------------------------- the generator

@dataclass
class MusicGenerator:
    """A loaded MuseGAN generator and how its samples become notes."""
    gen: LoadedGenerator

    @property
    def design(self) -> str:
        return self.gen.model.design

    @property
    def binarize_mode(self) -> str:
        return self.gen.model.binarize

    def noise(self, seed: int, n: int = 1) -> torch.Tensor:
        return self.gen.noise(n, seed)

    def rolls(self, z: torch.Tensor) -> np.ndarray:
        """z (n, nz) -> binary rolls (n, 4, 64, 48) uint8."""
        return binarize(self.gen(z), self.binarize_mode).numpy()

    def sample(self, seed: int, n: int = 1) -> np.ndarray:
        return self.rolls(self.noise(seed, n))

    def with_voice_from(self, seed: int, track: int, other_seed: int) -> np.ndarray:
        """The sample of `seed` with `track`'s own latents taken from `other_seed`: the other
        voices' inputs stay the same (their outputs stay the same in the jamming design, and in
        the hybrid design only through the shared latents)."""
        parts = track_parts(self.design, track)
        if not parts:
            raise ValueError("the composer design has no per-voice latent: all voices share one")
        z, other = self.noise(seed), self.noise(other_seed)
        G = self.gen.G
        for name in parts:
            i = G.parts.index(name)
            z[:, i * G.z_dim:(i + 1) * G.z_dim] = other[:, i * G.z_dim:(i + 1) * G.z_dim]
        return self.rolls(z)

    def interpolate_bars(self, seed_a: int, seed_b: int, n_bars: int = 8) -> np.ndarray:
        """A piece of `n_bars` bars moving from seed a to seed b: bar j takes the latents
        slerp(z_a, z_b, j / (n_bars - 1)) and plays bar (j mod 4) of that phrase. -> (4, n_bars*16, 48)."""
        za, zb = self.noise(seed_a), self.noise(seed_b)
        z = slerp(za.expand(n_bars, -1), zb.expand(n_bars, -1), torch.linspace(0, 1, n_bars).unsqueeze(1))
        phrases = self.rolls(z)                                          # (n_bars, 4, 64, 48)
        bars = [phrases[j][:, (j % 4) * STEPS_PER_BAR:(j % 4 + 1) * STEPS_PER_BAR] for j in range(n_bars)]
        return np.concatenate(bars, axis=1)


def load_music_generator(path: str | Path, device: str = "cpu") -> MusicGenerator:
    gen = load_generator(path, device)
    if gen.model.arch != "musegan":
        raise CheckpointError(f"{Path(path).name} is a {gen.model.arch} model, not a music model (MuseGAN)")
    return MusicGenerator(gen)


# ---------------------------------------------------------------- metrics

def evaluate_music(mg: MusicGenerator, n: int = 1000, seed: int = 0) -> dict[str, float]:
    """MuseGAN's metrics (gan_core.metrics.music) of n binarised samples."""
    rolls = np.concatenate([mg.sample(seed * 1_000_003 + i, min(250, n - i)) for i in range(0, n, 250)])
    return music_metrics(rolls, LOWEST_PITCH)


def data_metrics(split: str) -> dict[str, float]:
    """The same metrics for the chorale windows of a split ('train' or 'validation')."""
    return music_metrics(chorale_dataset(split).rolls(), LOWEST_PITCH)


# ---------------------------------------------------------------- notes

def roll_notes(roll: np.ndarray, lowest: int = LOWEST_PITCH) -> list[tuple[int, int, int, int]]:
    """(tracks, T, P) -> notes (track, MIDI pitch, start step, end step): each run of sounding steps."""
    notes = []
    r = np.asarray(roll).astype(bool)
    padded = np.pad(r, ((0, 0), (1, 1), (0, 0)))
    change = np.diff(padded.astype(np.int8), axis=1)                    # +1 at onsets, -1 after ends
    for k, p in zip(*np.nonzero(change.any(1))):
        starts = np.nonzero(change[k, :, p] == 1)[0]
        ends = np.nonzero(change[k, :, p] == -1)[0]
        notes += [(int(k), int(p + lowest), int(s), int(e)) for s, e in zip(starts, ends)]
    return sorted(notes, key=lambda n: (n[2], n[0], n[1]))


def step_seconds(bpm: float) -> float:
    return 60.0 / bpm / STEPS_PER_BEAT


def roll_to_midi(roll: np.ndarray, bpm: float = 80.0, lowest: int = LOWEST_PITCH,
                 programs: tuple[int, ...] = VOICE_PROGRAMS):
    """A pretty_midi.PrettyMIDI with one instrument per voice (named S, A, T, B)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    dt = step_seconds(bpm)
    instruments = [pretty_midi.Instrument(program=programs[k % len(programs)], name=TRACKS[k % len(TRACKS)])
                   for k in range(roll.shape[0])]
    for k, pitch, s, e in roll_notes(roll, lowest):
        instruments[k].notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=s * dt, end=e * dt))
    pm.instruments.extend(instruments)
    return pm


def midi_to_roll(pm, n_steps: int, bpm: float = 80.0, lowest: int = LOWEST_PITCH, pitches: int = 48) -> np.ndarray:
    """The inverse of roll_to_midi: instruments in order are the tracks."""
    dt = step_seconds(bpm)
    roll = np.zeros((len(pm.instruments), n_steps, pitches), np.uint8)
    for k, inst in enumerate(pm.instruments):
        for note in inst.notes:
            p = note.pitch - lowest
            if 0 <= p < pitches:
                roll[k, int(round(note.start / dt)):int(round(note.end / dt)), p] = 1
    return roll


def midi_bytes(roll: np.ndarray, bpm: float = 80.0) -> bytes:
    buf = io.BytesIO()
    roll_to_midi(roll, bpm).write(buf)
    return buf.getvalue()


def musicxml_bytes(roll: np.ndarray, title: str = "GAN Studio chorale") -> bytes:
    """A four-staff score (MusicXML) of the roll: the notes of each voice, rests between them.
    Overlapping notes in one voice (threshold binarisation) become chords."""
    from music21 import chord, clef, duration, metadata, meter, note, stream  # heavy (~0.2 s): export only
    from music21.musicxml.m21ToXml import GeneralObjectExporter
    score = stream.Score()
    score.insert(0, metadata.Metadata(title=title))
    total = roll.shape[1]
    by_track: dict[int, dict[int, list[tuple[int, int]]]] = {k: {} for k in range(roll.shape[0])}
    for k, pitch, s, e in roll_notes(roll):
        by_track[k].setdefault(s, []).append((pitch, e))
    for k in range(roll.shape[0]):
        part = stream.Part(id=TRACKS[k % 4])
        part.partName = TRACKS[k % 4]
        part.append(meter.TimeSignature("4/4"))
        part.append(clef.TrebleClef() if k < 2 else clef.BassClef())
        t = 0
        for s in sorted(by_track[k]):
            if s < t:
                continue  # starts inside a longer note of this voice: merged into it
            if s > t:
                part.append(note.Rest(quarterLength=(s - t) / STEPS_PER_BEAT))
            group = by_track[k][s]
            e = max(end for _, end in group)
            ql = (e - s) / STEPS_PER_BEAT
            el = note.Note(group[0][0]) if len(group) == 1 else chord.Chord([p for p, _ in group])
            el.duration = duration.Duration(ql)
            part.append(el)
            t = e
        if t < total:
            part.append(note.Rest(quarterLength=(total - t) / STEPS_PER_BEAT))
        score.insert(0, part)
    return GeneralObjectExporter(score.makeNotation()).parse()


# ---------------------------------------------------------------- audio

def soundfont_path() -> Path | None:
    path = Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")
    return path if path.exists() else None


def _render_soundfont(notes, n_samples: int, dt: float, sf: Path, programs) -> np.ndarray:
    import tinysoundfont  # optional (not in requirements.txt): render_wav falls back to additive
    synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE, gain=-6)
    sfid = synth.sfload(str(sf))
    for k in range(4):
        synth.program_select(k, sfid, 0, programs[k % len(programs)])
    events = sorted([(s * dt, 1, k, p) for k, p, s, e in notes] + [(e * dt, 0, k, p) for k, p, s, e in notes])
    out = np.zeros((n_samples, 2), np.float32)
    pos = 0
    for time_s, on, k, p in events + [(n_samples / SAMPLE_RATE, -1, 0, 0)]:
        target = min(int(round(time_s * SAMPLE_RATE)), n_samples)
        if target > pos:
            out[pos:target] = np.frombuffer(synth.generate(target - pos), np.float32).reshape(-1, 2)
            pos = target
        if on == 1:
            synth.noteon(k, p, 80)
        elif on == 0:
            synth.noteoff(k, p)
    return out.mean(1)


def _render_additive(notes, n_samples: int, dt: float) -> np.ndarray:
    """Each note a few harmonics under a short attack/release envelope."""
    out = np.zeros(n_samples, np.float32)
    for _, pitch, s, e in notes:
        a, b = int(s * dt * SAMPLE_RATE), min(int(e * dt * SAMPLE_RATE), n_samples)
        if b <= a:
            continue
        t = np.arange(b - a) / SAMPLE_RATE
        f = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f * h * t) / h ** 1.5 for h in (1, 2, 3, 4))
        env = np.minimum(1.0, np.minimum(t / 0.02, (b - a - np.arange(b - a)) / SAMPLE_RATE / 0.05))
        out[a:b] += (0.15 * tone * env).astype(np.float32)
    return out


def render_wav(roll: np.ndarray, bpm: float = 80.0, synth: str = "auto",
               programs: tuple[int, ...] = VOICE_PROGRAMS) -> tuple[bytes, str]:
    """The roll as 16-bit mono WAV bytes, and the synthesiser used ('soundfont' or 'additive')."""
    dt = step_seconds(bpm)
    notes = roll_notes(roll)
    n_samples = int((roll.shape[1] * dt + 0.6) * SAMPLE_RATE)   # a little room for the release
    sf = soundfont_path() if synth in ("auto", "soundfont") else None
    audio, used = None, "additive"
    if sf is not None:
        try:
            audio, used = _render_soundfont(notes, n_samples, dt, sf, programs), "soundfont"
        except ImportError:
            if synth == "soundfont":
                raise
    if audio is None:
        audio = _render_additive(notes, n_samples, dt)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue(), used


# ---------------------------------------------------------------- pictures
