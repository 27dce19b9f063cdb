"""Edge drawings and picture pairs: what Pix2Pix and super-resolution train on."""
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.data.edges import edges_batch, edges_of, sketch_lines
from gan_core.data.images import DataError
from gan_core.data.pairs import PairData, drawing_of, paired_folder, train_photos, validation_photos


def square(size=64, lo=40, hi=24):
    a = np.zeros((size, size), np.uint8)
    a[hi:lo, hi:lo] = 255
    return a


def test_canny_outlines_a_square_with_one_pixel_black_lines():
    d = edges_of(square(64, 44, 20), "canny", sigma=1.0)
    assert d.dtype == np.uint8 and set(np.unique(d)) <= {0, 255}
    lines = d == 0
    assert lines[20:44, 20:44].sum() > 60                       # the outline is there
    assert not lines[:15].any() and not lines[50:].any()         # and nothing far from it
    assert not (lines[:-1, :-1] & lines[1:, :-1] & lines[:-1, 1:] & lines[1:, 1:]).any()  # thinned: no 2x2 block


def test_skeleton_of_a_thick_bar_is_its_centre_line():
    a = np.zeros((32, 32), np.uint8)
    a[8:24, 14:19] = 255                   # a vertical stroke 5 px wide
    lines = edges_of(a, "skeleton", min_size=1) == 0
    cols = np.flatnonzero(lines.any(0))
    assert set(cols) <= {15, 16, 17} and lines.sum() >= 8


def test_specks_are_removed():
    a = np.zeros((32, 32), np.uint8)
    a[5, 5] = a[6, 6] = 255                # 2 pixels
    a[10:26, 16] = 255                     # a 16-pixel line
    lines = edges_of(a, "skeleton", min_size=8) == 0
    assert not lines[:8, :8].any() and lines[10:26, 16].sum() >= 14


def test_a_thick_pen_sketch_becomes_the_same_thin_line():
    thin, thick = np.full((40, 40), 255, np.uint8), np.full((40, 40), 255, np.uint8)
    thin[20, 5:35] = 0
    thick[18:23, 5:35] = 0
    assert (sketch_lines(thin) == 0).sum() == pytest.approx((sketch_lines(thick) == 0).sum(), abs=6)
    assert (sketch_lines(thick) == 0)[20, 8:32].all()


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="canny, skeleton"):
        edges_of(square(), "sobel")
    assert edges_batch(np.stack([square(), square()]), "canny").shape == (2, 64, 64)


def test_pairs_crop_both_pictures_at_the_same_place():
    b = torch.arange(3 * 40 * 50, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(3, 40, 50)
    a = b[:1].clone()
    data = PairData([b], [a], "one", crop=16, flip=True)
    ca, cb = data.sample(32, torch.Generator().manual_seed(0))
    assert ca.shape == (32, 1, 16, 16) and cb.shape == (32, 3, 16, 16)
    torch.testing.assert_close(ca[:, 0], cb[:, 0])               # same crop, same flip
    assert 0 <= float(cb.min()) and float(cb.max()) <= 1


def test_rotate_turns_each_crop_and_its_drawing_alike():
    b = torch.arange(3 * 8 * 8, dtype=torch.int64).to(torch.uint8).reshape(3, 8, 8)  # no symmetry of its own
    data = PairData([b], [b[:1].clone()], "one", crop=8, flip=False, rotate=True)
    ca, cb = data.sample(64, torch.Generator().manual_seed(0))
    turns = [[torch.equal(cb[i], b.rot90(k, (-2, -1)).float() / 255) for k in range(4)] for i in range(64)]
    assert all(sum(t) == 1 for t in turns)                       # every crop is one quarter turn of the picture
    assert {t.index(True) for t in turns} == {0, 1, 2, 3}        # and all four occur
    torch.testing.assert_close(ca[:, 0], cb[:, 0])               # the drawing turned with its picture
    _, plain = PairData([b], None, "one", crop=8, flip=False).sample(8, torch.Generator().manual_seed(0))
    assert all(torch.equal(p, b.float() / 255) for p in plain)   # without rotate nothing turns


def test_pairs_refuse_pictures_smaller_than_the_crop():
    with pytest.raises(DataError, match="smaller than the 64-pixel"):
        PairData([torch.zeros(3, 32, 80, dtype=torch.uint8)], None, "small", crop=64)


def test_same_sized_pairs_are_sampled_by_index():
    b = torch.stack([torch.full((1, 8, 8), i, dtype=torch.uint8) for i in range(5)])
    data = PairData(list(b), list(255 - b), "digits", crop=8)
    a, bb = data.sample(10, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, 1 - bb)


def test_the_validation_photos_are_never_in_the_training_photos():
    train = train_photos([1.0])
    val = validation_photos()
    assert set(val) == {"china", "flower"} and all(v.shape == (3, 427, 640) for v in val.values())
    assert len(train) == 9                                   # 8 photos, the stereo pair counted twice
    assert not any(t.shape == v.shape and torch.equal(t, v) for t in train for v in val.values())
    everything = train_photos([1.0], grey=True)
    assert len(everything) == 19 and all(t.shape[0] == 3 for t in everything)
    assert torch.equal(everything[-1][0], everything[-1][2])          # a grey photo: three equal channels


def test_drawing_of_a_picture_has_one_channel_and_its_size():
    pic = torch.from_numpy(square(48)).expand(3, -1, -1)
    d = drawing_of(pic, "canny", 1.0)
    assert d.shape == (1, 48, 48) and d.dtype == torch.uint8


def _png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def test_side_by_side_pairs_split_in_half(tmp_path):
    left, right = np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 200, np.uint8)
    (tmp_path / "1.png").write_bytes(_png(np.concatenate([left, right], 1)))
    a, b = paired_folder(tmp_path, 1, 3)
    assert a[0].shape == (1, 16, 16) and int(a[0].max()) == 0 and int(b[0].min()) == 200
    a, b = paired_folder(tmp_path, 3, 3, direction="BtoA")
    assert int(a[0].min()) == 200


def test_a_and_b_folders_pair_by_name_inside_a_zip(tmp_path):
    z = tmp_path / "pairs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name in ("x", "y"):
            zf.writestr(f"train/A/{name}.png", _png(np.zeros((8, 8, 3), np.uint8)))
            zf.writestr(f"train/B/{name}.jpg", _png(np.full((8, 8, 3), 255, np.uint8)))
    a, b = paired_folder(z, 1, 3)
    assert len(a) == 2 and int(b[1].min()) == 255


def test_a_file_without_a_partner_is_named(tmp_path):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    (tmp_path / "A" / "one.png").write_bytes(_png(np.zeros((8, 8, 3), np.uint8)))
    (tmp_path / "B" / "one.png").write_bytes(_png(np.zeros((8, 8, 3), np.uint8)))
    (tmp_path / "A" / "two.png").write_bytes(_png(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(DataError, match="no partner.*two"):
        paired_folder(tmp_path, 1, 3)


def test_odd_width_side_by_side_and_damaged_files_are_listed(tmp_path):
    (tmp_path / "odd.png").write_bytes(_png(np.zeros((8, 9, 3), np.uint8)))
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match="2 pair") as e:
        paired_folder(tmp_path, 1, 3)
    assert "odd" in str(e.value) and "bad.png" in str(e.value)
