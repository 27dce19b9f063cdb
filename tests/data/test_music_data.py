"""The chorale piano-roll dataset: parsing, transposition, windows, the split and the cache."""
import numpy as np
import pytest

from gan_core.data import music as M


def test_a_chorale_becomes_four_monophonic_voices_in_c(few_chorales):
    roll, bars = M.score_to_roll(M.parse_chorale(M.chorale_paths()[1]))  # bwv10.7, a 4/4 chorale
    assert roll.shape[0] == 4 and roll.shape[2] == 128
    assert roll.sum(-1).max() == 1                      # one note per voice at a time
    assert all(b % M.STEPS_PER_BAR == bars[0] % M.STEPS_PER_BAR for b in bars)  # bar lines 16 steps apart
    sounding = roll.any((0, 1))
    pitch_classes = {p % 12 for p in np.nonzero(sounding)[0]}
    # transposed to C major / A minor: almost everything in the white keys
    in_scale = roll[..., [p for p in range(128) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]].sum() / roll.sum()
    assert in_scale > 0.85 and len(pitch_classes) >= 7
    # the voices keep their order on average: soprano above alto above tenor above bass
    mean_pitch = [np.nonzero(roll[v])[1].mean() for v in range(4)]
    assert mean_pitch == sorted(mean_pitch, reverse=True)


def test_windows_start_on_bar_lines_and_drop_notes_out_of_range():
    roll = np.zeros((4, 80, 128), np.uint8)
    roll[0, :, 60] = 1
    roll[3, 70, 20] = 1                                 # far below the range, in the second window only
    w = M.windows(roll, [0, 16])
    assert w.shape == (1, 4, M.WINDOW, M.N_PITCHES)     # the window from step 16 holds the low note
    assert w[0, 0, :, 60 - M.LOWEST_PITCH].all()
    assert M.windows(roll, [32]).shape[0] == 0          # not 4 bars left


def test_transposition_takes_the_short_way():
    class Key:
        def __init__(self, pc, mode):
            self.tonic, self.mode = type("T", (), {"pitchClass": pc})(), mode

    class Score:
        def __init__(self, key):
            self.key = key

        def analyze(self, what):
            return self.key
    assert M._transposition(Score(Key(7, "major"))) == 5      # G major up to C
    assert M._transposition(Score(Key(2, "major"))) == -2     # D major down to C
    assert M._transposition(Score(Key(4, "minor"))) == 5      # E minor up to A minor
    assert M._transposition(Score(Key(9, "minor"))) == 0


def test_split_is_by_chorale(few_chorales):
    val = M.chorale_dataset("validation", max_chorales=12)
    assert set(val.chorale).isdisjoint(few_chorales.chorale)
    assert few_chorales.images.shape[1:] == (4, M.WINDOW, M.N_PITCHES)
    assert set(np.unique(few_chorales.images.numpy())) == {0, 255}
    x, y = few_chorales.batch(np.arange(3))
    assert y is None and set(x.unique().tolist()) == {-1.0, 1.0}


def test_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    first = M.chorale_dataset("all", max_chorales=3)
    cache = next(tmp_path.glob("bach_chorales_*.npz"))
    cache.write_bytes(b"PK\x03\x04 this is not a zip any more")
    again = M.chorale_dataset("all", max_chorales=3)
    assert np.array_equal(first.images.numpy(), again.images.numpy())
    np.savez(cache, rolls=np.full((2, 4, 64, 48), 7, np.uint8))  # readable but wrong: rebuilt too
    assert np.array_equal(M.chorale_dataset("all", max_chorales=3).images.numpy(), first.images.numpy())


def test_unknown_split_and_empty_corpus_say_so(monkeypatch):
    with pytest.raises(M.MusicDataError, match="split"):
        M.chorale_dataset("test")
    with pytest.raises(M.MusicDataError, match="no usable chorale"):
        M.build_chorale_rolls([])
