"""Bach chorales as four-track piano rolls, the data of the music GAN (MuseGAN-style).

Source: the chorales shipped inside music21's corpus (no download). Each 4/4 chorale
with exactly four parts (soprano, alto, tenor, bass) is

- transposed to C major or A minor (by the key music21 analyses, the smaller shift),
- quantised to a 16th-note grid (4 steps per beat, 16 per bar),
- cut into 4-bar windows that start on a bar line, one bar apart.

A roll is a {0, 1} array (tracks, time, pitch): roll[v, t, p] = 1 when voice v sounds
pitch LOWEST_PITCH + p during step t. A note held over several steps is a run of ones, so
two repeated notes of the same pitch merge into one (as in MuseGAN's piano rolls).
The split is by chorale (every tenth chorale, in corpus order, is validation), so no
validation window shares music with a training window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..io import cached_arrays
from ..nets.musegan import binarize
from .images import DataError, ImageData

TRACKS = ("Soprano", "Alto", "Tenor", "Bass")
STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16
BARS = 4
WINDOW = BARS * STEPS_PER_BAR
LOWEST_PITCH = 36          # C2; with 48 pitches the roll reaches B5 (MIDI 83): 9 windows in 10 fit
N_PITCHES = 48
VALIDATION_EVERY = 10      # chorale i is validation when i % 10 == 0
CACHE_VERSION = 1

Progress = Callable[[int, int], None]   # (done, total)


class MusicDataError(DataError):
    """Music data that cannot be used; the message says what and how to fix it."""


def chorale_paths() -> list[Path]:
    """The Bach chorales in music21's corpus (MusicXML files), in a fixed order."""
    try:
        from music21 import corpus  # heavy (~0.3 s), and only building the cached rolls needs it
    except ImportError:
        raise MusicDataError("music21 is not installed: pip install music21 (it ships the Bach chorales)") from None
    paths = [Path(p) for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml"))]
    return sorted(paths, key=lambda p: p.name)


def _transposition(score) -> int:
    """Semitones that move the analysed key's tonic to C (major) or A (minor), in -6..+5."""
    key = score.analyze("key")
    target = 0 if key.mode == "major" else 9
    return (target - key.tonic.pitchClass + 6) % 12 - 6


def score_to_roll(score) -> tuple[np.ndarray, list[int]]:
    """A four-part 4/4 music21 score -> (roll (4, T, 128) uint8 over all MIDI pitches, bar-line steps).

    Raises MusicDataError for scores this dataset leaves out (other metres, other part
    counts, off-grid rhythms).
    """
    parts = list(score.parts)
    if len(parts) != len(TRACKS):
        raise MusicDataError(f"{len(parts)} parts, not 4")
    metres = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    if metres != {"4/4"}:
        raise MusicDataError(f"metre {sorted(metres)}, not 4/4")
    shift = _transposition(score)
    length = int(round(float(score.highestTime) * STEPS_PER_BEAT))
    roll = np.zeros((len(TRACKS), length, 128), np.uint8)
    for v, part in enumerate(parts):
        for n in part.flatten().notes:
            start = float(n.offset) * STEPS_PER_BEAT
            end = (float(n.offset) + float(n.quarterLength)) * STEPS_PER_BEAT
            if end - start < 1e-6:
                continue  # grace notes
            if abs(start - round(start)) > 1e-6 or abs(end - round(end)) > 1e-6:
                raise MusicDataError("rhythms finer than a 16th note")
            for pitch in n.pitches:  # a chord in one voice (rare) keeps all its notes
                roll[v, int(round(start)):int(round(end)), min(max(pitch.midi + shift, 0), 127)] = 1
    measures = parts[0].getElementsByClass("Measure")
    bars = [int(round(float(m.offset) * STEPS_PER_BEAT)) for m in measures
            if abs(float(m.duration.quarterLength) - 4.0) < 1e-6]
    return roll, bars


def windows(roll: np.ndarray, bars: Iterable[int], n_bars: int = BARS) -> np.ndarray:
    """The windows of `n_bars` bars of a full-range roll that start on a bar line and whose notes
    all lie in the model's pitch range, cropped to it: (n, 4, n_bars*16, N_PITCHES)."""
    size = n_bars * STEPS_PER_BAR
    out = []
    for b in bars:
        w = roll[:, b:b + size]
        if w.shape[1] == size and not w[..., :LOWEST_PITCH].any() and not w[..., LOWEST_PITCH + N_PITCHES:].any():
            out.append(w[..., LOWEST_PITCH:LOWEST_PITCH + N_PITCHES])
    if not out:
        return np.zeros((0, len(TRACKS), size, N_PITCHES), np.uint8)
    return np.stack(out)


def parse_chorale(path: str | Path):
    from music21 import converter  # heavy (~0.2 s): only building the cached rolls parses scores
    return converter.parse(str(path))


def build_chorale_rolls(paths: list[Path] | None = None, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Parse the chorales into window arrays: rolls, chorale (index per window), names,
    validation (per chorale), skipped (names left out)."""
    paths = chorale_paths() if paths is None else list(paths)
    rolls, owner, names, skipped = [], [], [], []
    for i, path in enumerate(paths):
        try:
            roll, bars = score_to_roll(parse_chorale(path))
        except MusicDataError:
            skipped.append(path.stem)
        except Exception:  # a file music21 cannot read: leave it out, the rest still build
            skipped.append(path.stem)
        else:
            w = windows(roll, bars)
            if len(w):
                rolls.append(w)
                owner.append(np.full(len(w), len(names), np.int32))
                names.append(path.stem)
            else:
                skipped.append(path.stem)
        if progress is not None:
            progress(i + 1, len(paths))
    if not rolls:
        raise MusicDataError("no usable chorale: none was a four-part 4/4 chorale of at least 4 bars")
    index = np.arange(len(names))
    return {"rolls": np.concatenate(rolls), "chorale": np.concatenate(owner),
            "names": np.array(names), "validation": index % VALIDATION_EVERY == 0,
            "skipped": np.array(skipped, dtype=str), "version": np.array(CACHE_VERSION)}


def _valid(arrays: dict[str, np.ndarray]) -> bool:
    need = {"rolls", "chorale", "names", "validation", "version"}
    if not need <= set(arrays) or int(arrays["version"]) != CACHE_VERSION:
        return False
    r = arrays["rolls"]
    return (r.ndim == 4 and r.shape[1:] == (len(TRACKS), WINDOW, N_PITCHES) and r.dtype == np.uint8
            and len(arrays["chorale"]) == len(r) and len(arrays["validation"]) == len(arrays["names"])
            and r.max(initial=0) <= 1)


@dataclass
class RollData(ImageData):
    """Piano-roll windows stored like images: uint8 (N, 4 tracks, 64 steps, 48 pitches) with
    0 (silent) and 255 (sounding), so a batch comes out in {-1, 1} as the generator's tanh
    output; `chorale` names the chorale of each window."""
    chorale: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str) -> "RollData":
        return RollData(self.images.to(device), None, self.name, [], self.skipped, self.chorale)

    def write_preview(self, x: Tensor, stem: Path, model) -> Path:
        """A training run's sample sheet: four of G's phrases as piano rolls, notes read as model.binarize says."""
        path = stem.with_suffix(".png")
        rolls_sheet(binarize(x[:4], model.binarize).numpy()).save(path)
        return path

    def rolls(self) -> np.ndarray:
        """The binary rolls (N, tracks, time, pitch) as uint8 0/1."""
        return (self.images > 127).to(torch.uint8).cpu().numpy()


def chorale_dataset(split: str = "train", progress: Progress | None = None,
                    max_chorales: int | None = None) -> RollData:
    """The cached window dataset: 'train', 'validation' or 'all'. The first call parses the
    corpus (about a minute) and stores the result under cache_dir(); a damaged cache is rebuilt.
    `max_chorales` builds from the first N chorales only (a separate, small cache for tests)."""
    if split not in ("train", "validation", "all"):
        raise MusicDataError(f"split must be train, validation or all, not {split!r}")

    def build():
        paths = chorale_paths()
        return build_chorale_rolls(paths[:max_chorales] if max_chorales else paths, progress)

    name = f"bach_chorales_v{CACHE_VERSION}" + (f"_first{max_chorales}" if max_chorales else "")
    arrays = cached_arrays(name, build, _valid)
    val = arrays["validation"][arrays["chorale"]]
    keep = {"train": ~val, "validation": val, "all": np.ones_like(val)}[split]
    if not keep.any():
        raise MusicDataError(f"the {split} split is empty (too few chorales: {len(arrays['names'])})")
    rolls = torch.from_numpy(arrays["rolls"][keep].astype(np.uint8) * 255)
    names = [str(arrays["names"][c]) for c in arrays["chorale"][keep]]
    return RollData(rolls, None, f"bach_chorales/{split}", chorale=names)


def chorale_excerpt(name: str | None = None, bars: int = BARS) -> tuple[np.ndarray, str]:
    """The first `bars` full bars of one chorale (by file stem; default: the first validation
    chorale that parses) as a roll (4, bars*16, N_PITCHES), parsed on its own (fast)."""
    paths = chorale_paths()
    if name is not None:
        paths = [p for p in paths if p.stem == name]
        if not paths:
            raise MusicDataError(f"no chorale named {name!r} in music21's corpus")
    else:
        paths = paths[::VALIDATION_EVERY]
    for path in paths:
        try:
            roll, bar_lines = score_to_roll(parse_chorale(path))
        except Exception:
            continue
        found = windows(roll, bar_lines, bars)
        if len(found):
            return found[0], path.stem
    raise MusicDataError(f"no usable four-part 4/4 chorale{' named ' + name if name else ''} found")


# ---------------------------------------------------------------- pictures

VOICE_COLOURS = ((214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189))   # S A T B


def roll_picture(roll: np.ndarray, cell: tuple[int, int] = (6, 4)) -> Image.Image:
    """A piano-roll image: time to the right, pitch up, each voice in its colour, bar lines grey."""
    k, t, p = roll.shape
    w, h = cell
    img = np.full((p * h, t * w, 3), 255, np.uint8)
    for bar in range(0, t, STEPS_PER_BAR):
        img[:, bar * w] = 200
    for c in range(p):
        if (LOWEST_PITCH + c) % 12 == 0:            # every C: a faint line, to read octaves
            img[(p - 1 - c) * h + h - 1] = np.minimum(img[(p - 1 - c) * h + h - 1], 235)
    for track in range(k):
        colour = np.array(VOICE_COLOURS[track % len(VOICE_COLOURS)], np.uint8)
        for ti, pi in zip(*np.nonzero(roll[track])):
            img[(p - 1 - pi) * h:(p - pi) * h - 1, ti * w:(ti + 1) * w] = colour
    return Image.fromarray(img)


def rolls_sheet(rolls: np.ndarray, columns: int = 2) -> Image.Image:
    """Several rolls side by side (the training sample sheet)."""
    pics = [roll_picture(r) for r in rolls]
    w, h = pics[0].size
    rows = -(-len(pics) // columns)
    sheet = Image.new("RGB", (columns * (w + 8) - 8, rows * (h + 8) - 8), (255, 255, 255))
    for i, pic in enumerate(pics):
        sheet.paste(pic, ((i % columns) * (w + 8), (i // columns) * (h + 8)))
    return sheet
