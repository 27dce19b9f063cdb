"""Texture patches with synthetic defects: masks mark exactly what changed; splits never overlap."""
import numpy as np
import pytest

from gan_core.data import textures as T


def test_normal_patches_come_from_the_training_rows_only():
    train = T.normal_patches("brick", 50, 32, "train", seed=1)
    assert train.shape == (50, 32, 32) and train.dtype == np.uint8
    full = T.texture("brick")
    # every training patch is found in rows 0..383 and none reaches into the test rows
    for p in train[:5]:
        hits = [(y, x) for y in range(0, T.TRAIN_ROWS - 31) for x in range(0, 512 - 31, 1)
                if full[y, x] == p[0, 0] and np.array_equal(full[y:y + 32, x:x + 32], p)]
        assert hits and all(y + 32 <= T.TRAIN_ROWS for y, _ in hits)
    assert np.array_equal(train, T.normal_patches("brick", 50, 32, "train", seed=1))   # a seed is a set


@pytest.mark.parametrize("name", T.TEXTURES)
def test_defects_change_exactly_their_mask(name):
    s = T.defect_set(name, n=30, size=32, seed=0)
    images, masks, labels, kinds = s["images"], s["masks"], s["labels"], s["kinds"]
    assert labels.sum() == 15 and set(kinds[labels == 1]) == set(T.DEFECTS)
    assert not masks[labels == 0].any()
    assert (masks[labels == 1].reshape(15, -1).sum(1) >= 4).all()
    # re-crop the same patches without defects: outside each mask nothing changed
    clean = T._crops(T._region(name, "test"), 30, 32, np.random.default_rng(10_000))
    for img, mask, before in zip(images[15:], masks[15:], clean[15:]):
        assert np.array_equal(img[~mask], before[~mask]) and (img[mask] != before[mask]).all()


def test_unknown_names_say_what_exists():
    with pytest.raises(ValueError, match="brick, grass, gravel"):
        T.texture("marble")
    with pytest.raises(ValueError, match="cutpaste, scratch, foreign"):
        T.add_defect(np.zeros((8, 8), np.uint8), "dent", np.zeros((64, 64)), np.zeros((64, 64)),
                     np.random.default_rng(0))
