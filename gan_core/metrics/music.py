"""Objective metrics of multi-track piano rolls, after MuseGAN (Dong et al., 2018).

Every function takes binary rolls (N, tracks, time, pitches) whose pitch 0 is MIDI
`lowest` (so pitch classes are right) and whose bars are `steps_per_bar` long.

    EB   empty bars: share of (sample, track, bar) with no note                      (0..1)
    UPC  used pitch classes per non-empty bar of a track                              (0..12)
    QN   qualified notes: share of notes lasting >= min_steps steps; MuseGAN counts
         notes of 3+ of its 96 steps per bar, we count 2+ of our 16 (an 8th note),
         since on a 16th grid a 16th is the shortest note there is                    (0..1)
    TD   tonal distance between two tracks: Euclidean distance of their 6-D tonal
         centroids (Harte et al., 2006) per bar where both sound, averaged            (0..~2.3)
    in-scale  share of sounding (step, pitch) cells in the C-major / A-minor scale    (0..1)
    polyphony mean number of distinct pitches sounding at a step that has any         (0..)
    consonance share of (step, voice pair), both voices sounding, whose interval (between
         each voice's highest pitch, in semitones mod 12) is a unison/octave, third, fifth
         or sixth; the fourth counts as dissonant, as in two-voice counterpoint. Not one of
         MuseGAN's metrics: it shows whether the voices listen to each other           (0..1)

Per-track values are averaged over tracks for the headline figure.
"""
from __future__ import annotations

import numpy as np

C_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)


def _bars(rolls: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """(N, K, T, P) -> (N, K, bars, steps_per_bar, P)."""
    n, k, t, p = rolls.shape
    if t % steps_per_bar:
        raise ValueError(f"{t} steps is not a whole number of {steps_per_bar}-step bars")
    return rolls.reshape(n, k, t // steps_per_bar, steps_per_bar, p)


def chroma(rolls: np.ndarray, lowest: int) -> np.ndarray:
    """(..., P) -> (..., 12): how often each pitch class sounds, octaves summed."""
    p = rolls.shape[-1]
    idx = (lowest + np.arange(p)) % 12
    out = np.zeros(rolls.shape[:-1] + (12,), np.float64)
    for pc in range(12):
        out[..., pc] = rolls[..., idx == pc].sum(-1)
    return out


def empty_bars(rolls: np.ndarray, steps_per_bar: int = 16) -> np.ndarray:
    """EB per track."""
    return (~_bars(rolls, steps_per_bar).any(axis=(3, 4))).mean(axis=(0, 2))


def used_pitch_classes(rolls: np.ndarray, lowest: int, steps_per_bar: int = 16) -> np.ndarray:
    """UPC per track (NaN for a track whose bars are all empty)."""
    used = (chroma(_bars(rolls, steps_per_bar).any(3), lowest) > 0).sum(-1)     # (N, K, bars)
    sounding = _bars(rolls, steps_per_bar).any(axis=(3, 4))
    with np.errstate(invalid="ignore"):
        return (used * sounding).sum(axis=(0, 2)) / sounding.sum(axis=(0, 2))


def qualified_notes(rolls: np.ndarray, min_steps: int = 2) -> np.ndarray:
    """QN per track: a note is a run of consecutive sounding steps of one pitch."""
    r = rolls.astype(bool)
    onset = r.copy()
    onset[:, :, 1:] &= ~r[:, :, :-1]
    long_enough = onset.copy()
    for j in range(1, min_steps):
        shifted = np.zeros_like(r)
        shifted[:, :, :-j] = r[:, :, j:]
        long_enough &= shifted
    with np.errstate(invalid="ignore"):
        return long_enough.sum(axis=(0, 2, 3)) / onset.sum(axis=(0, 2, 3))


def tonal_matrix(r1: float = 1.0, r2: float = 1.0, r3: float = 0.5) -> np.ndarray:
    """Harte's 6x12 map of pitch classes onto circles of fifths, minor and major thirds."""
    pc = np.arange(12)
    return np.stack([r1 * np.sin(pc * 7 * np.pi / 6), r1 * np.cos(pc * 7 * np.pi / 6),
                     r2 * np.sin(pc * 3 * np.pi / 2), r2 * np.cos(pc * 3 * np.pi / 2),
                     r3 * np.sin(pc * 2 * np.pi / 3), r3 * np.cos(pc * 2 * np.pi / 3)])


def tonal_distance(rolls: np.ndarray, a: int, b: int, lowest: int, steps_per_bar: int = 16) -> float:
    """TD between tracks a and b: zeta = Phi c / |c|_1 per bar, mean |zeta_a - zeta_b| over bars
    where both tracks sound (NaN if there is none)."""
    c = chroma(_bars(rolls, steps_per_bar).sum(3), lowest)             # (N, K, bars, 12)
    ca, cb = c[:, a], c[:, b]
    both = (ca.sum(-1) > 0) & (cb.sum(-1) > 0)
    if not both.any():
        return float("nan")
    phi = tonal_matrix()
    za = (ca[both] / ca[both].sum(-1, keepdims=True)) @ phi.T
    zb = (cb[both] / cb[both].sum(-1, keepdims=True)) @ phi.T
    return float(np.linalg.norm(za - zb, axis=-1).mean())


def in_scale(rolls: np.ndarray, lowest: int, scale: np.ndarray = C_MAJOR) -> float:
    """Share of sounding cells whose pitch class is in `scale` (NaN for silence)."""
    c = chroma(rolls, lowest).sum(axis=tuple(range(rolls.ndim - 1)))
    return float(c[scale].sum() / c.sum()) if c.sum() else float("nan")


def polyphony(rolls: np.ndarray) -> float:
    """Mean number of distinct pitches at the steps where anything sounds (all tracks together)."""
    sounding = rolls.astype(bool).any(1).sum(-1)                        # (N, T)
    return float(sounding[sounding > 0].mean()) if (sounding > 0).any() else 0.0


CONSONANT = (0, 3, 4, 7, 8, 9)


def consonance(rolls: np.ndarray) -> float:
    """Share of consonant intervals between pairs of sounding voices (NaN if no two ever sound)."""
    r = np.asarray(rolls).astype(bool)
    p = r.shape[-1]
    top = np.where(r.any(-1), p - 1 - np.argmax(r[..., ::-1], axis=-1), -1)     # (N, K, T)
    good = total = 0
    for i in range(r.shape[1]):
        for j in range(i + 1, r.shape[1]):
            both = (top[:, i] >= 0) & (top[:, j] >= 0)
            interval = np.abs(top[:, i] - top[:, j])[both] % 12
            good += int(np.isin(interval, CONSONANT).sum())
            total += int(both.sum())
    return good / total if total else float("nan")


def music_metrics(rolls: np.ndarray, lowest: int, steps_per_bar: int = 16,
                  tracks: tuple[str, ...] = ("S", "A", "T", "B")) -> dict[str, float]:
    """All of the above for a set of rolls, as a flat dict of plain floats (headline + per track)."""
    rolls = np.asarray(rolls).astype(bool)
    eb, upc, qn = empty_bars(rolls, steps_per_bar), used_pitch_classes(rolls, lowest, steps_per_bar), \
        qualified_notes(rolls)
    k = rolls.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    td = {f"TD_{tracks[i]}{tracks[j]}": tonal_distance(rolls, i, j, lowest, steps_per_bar) for i, j in pairs}
    out = {"EB": float(np.mean(eb)), "UPC": float(np.nanmean(upc)) if not np.isnan(upc).all() else float("nan"),
           "QN": float(np.nanmean(qn)) if not np.isnan(qn).all() else float("nan"),
           "TD": float(np.nanmean(list(td.values()))) if td and not np.isnan(list(td.values())).all() else float("nan"),
           "in_scale": in_scale(rolls, lowest), "polyphony": polyphony(rolls), "consonance": consonance(rolls)}
    for i, name in enumerate(tracks[:k]):
        out[f"EB_{name}"], out[f"UPC_{name}"], out[f"QN_{name}"] = float(eb[i]), float(upc[i]), float(qn[i])
    out.update(td)
    return out
