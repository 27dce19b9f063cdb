"""MuseGAN's metrics on hand-made piano rolls with known values."""
import math

import numpy as np
import pytest

from gan_core.metrics import music as MM

LOW = 36  # pitch index 0 is C2, so index 24 is C4


def roll(n_tracks=4, steps=64, pitches=48):
    return np.zeros((1, n_tracks, steps, pitches), np.uint8)


def test_empty_bars_pitch_classes_and_qualified_notes():
    r = roll()
    r[0, 0, 0:4, 24] = 1      # C, 4 steps
    r[0, 0, 4:6, 28] = 1      # E, 2 steps
    r[0, 0, 6, 31] = 1        # G, 1 step (not qualified)
    r[0, 0, 20:24, 36] = 1    # C an octave up, in bar 2
    eb = MM.empty_bars(r)
    assert eb.tolist() == [0.5, 1.0, 1.0, 1.0]
    assert MM.used_pitch_classes(r, LOW)[0] == pytest.approx((3 + 1) / 2)   # {C, E, G} and {C}
    assert MM.qualified_notes(r)[0] == pytest.approx(3 / 4)
    assert math.isnan(MM.qualified_notes(r)[1])       # a silent voice has no notes
    assert MM.in_scale(r, LOW) == 1.0
    r[0, 1, 0:2, 30] = 1      # F sharp in the alto: 2 of 13 sounding cells out of the scale
    assert MM.in_scale(r, LOW) == pytest.approx(11 / 13)


def test_tonal_distance_of_unison_fifth_and_tritone():
    r = roll(2)
    r[0, 0, :16, 24] = 1                       # C
    r[0, 1, :16, 36] = 1                       # C an octave up: same pitch class
    assert MM.tonal_distance(r, 0, 1, LOW) == pytest.approx(0.0, abs=1e-12)
    r[0, 1, :16] = 0
    r[0, 1, :16, 31] = 1                       # G: worked by hand from Harte's 6-D centroids
    assert MM.tonal_distance(r, 0, 1, LOW) == pytest.approx(math.sqrt(3.0179), abs=1e-3)
    r[0, 1, :16] = 0
    r[0, 1, :16, 30] = 1                       # F sharp, the tritone, is further than the fifth
    assert MM.tonal_distance(r, 0, 1, LOW) > math.sqrt(3.0179)
    r[0, 1] = 0
    assert math.isnan(MM.tonal_distance(r, 0, 1, LOW))   # no bar where both sound


def test_polyphony_counts_distinct_pitches():
    r = roll()
    r[0, 0, 0:4, 24] = 1
    r[0, 1, 0:4, 24] = 1       # unison: one pitch
    r[0, 2, 4:8, [10, 14, 17]] = 1
    assert MM.polyphony(r) == pytest.approx((4 * 1 + 4 * 3) / 8)


def test_summary_of_a_real_chorale_is_plausible(few_chorales):
    m = MM.music_metrics(few_chorales.rolls(), LOW)
    assert m["EB"] < 0.05 and 0.9 < m["QN"] <= 1 and m["in_scale"] > 0.85
    assert 2 < m["UPC"] < 6 and 3 < m["polyphony"] <= 4 and 0 < m["TD"] < 1.5
    assert set(m) >= {"EB_S", "QN_B", "TD_SB", "TD_AT"}


def test_consonance_of_known_chords():
    r = roll()
    # step 0: S G4, A E4, T C4, B C3 -> pairs: 3 (m3), 7 (5th), 19 -> 7, 4 (M3), 16 -> 4, 12 -> 0: all consonant
    for voice, pitch in enumerate((31, 28, 24, 12)):
        r[0, voice, 0, pitch] = 1
    assert MM.consonance(r) == 1.0
    # step 1: S F4, B C3 only: a fourth above an octave (17 -> 5) is dissonant
    r[0, 0, 1, 29] = 1
    r[0, 3, 1, 12] = 1
    assert MM.consonance(r) == pytest.approx(6 / 7)
    assert math.isnan(MM.consonance(roll()))
