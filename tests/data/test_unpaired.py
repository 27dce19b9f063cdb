"""Unpaired data: two domains of any sizes and counts, never paired; the built-in digit sets."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.data import DataError, load_training_data
from gan_core.data.images import uci_digits
from gan_core.data.unpaired import built_in_set
from gan_core.recipes import load_recipe


def _picture(w, h, colour=True, seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3) if colour else (h, w), dtype=np.uint8)
    return Image.fromarray(arr)


def _zip(path, pictures, extra=()):
    with zipfile.ZipFile(path, "w") as zf:
        for i, img in enumerate(pictures):
            buf = io.BytesIO()
            img.save(buf, "PNG")
            zf.writestr(f"p{i}.png", buf.getvalue())
        for name, data in extra:
            zf.writestr(name, data)
    return path


def _cfg(a, b, size=32, **model):
    return load_recipe(None, {"model.arch": "cyclegan", "model.img_size": size, "model.ngf": 4, "model.ndf": 4,
                              "model.n_blocks": 1, "data.name": "unpaired", "data.a": a, "data.b": b,
                              "train.identity_weight": 0, **{f"model.{k}": v for k, v in model.items()}})


def test_uci_digits_are_blocks_with_a_fixed_stratified_split():
    train, test = uci_digits("train"), uci_digits("test")
    assert len(train) + len(test) == 1797 and len(test) == 300
    assert torch.bincount(test.labels).tolist() == [30] * 10
    img = train.images[0, 0]
    assert img.shape == (32, 32)
    # a dark 4-pixel margin, and inside it each 3x3 block holds one value: the 8x8 original enlarged
    assert img[:4].sum() == img[-4:].sum() == img[:, :4].sum() == img[:, -4:].sum() == 0
    blocks = img[4:28, 4:28].reshape(8, 3, 8, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()
    assert torch.equal(uci_digits("test").images, test.images)


def test_folders_of_mismatched_counts_and_sizes(tmp_path):
    a = _zip(tmp_path / "a.zip", [_picture(40 + 7 * i, 50, seed=i) for i in range(5)])
    b = tmp_path / "b"
    b.mkdir()
    for i in range(2):
        _picture(100, 64 + i, colour=False, seed=10 + i).save(b / f"q{i}.jpg")
    data = load_training_data(_cfg({"name": "folder", "path": str(a)}, {"name": "folder", "path": str(b)},
                                   channels_b=1))
    assert (len(data.a), len(data.b)) == (5, 2)
    # shorter sides scaled to 9/8 of the 32-pixel crop, whatever the picture's size
    assert {min(t.shape[-2:]) for t in data.a.b} == {36} and {min(t.shape[-2:]) for t in data.b.b} == {36}
    xa, xb = data.sample(6, torch.Generator().manual_seed(0))
    assert xa.shape == (6, 3, 32, 32) and xb.shape == (6, 1, 32, 32)
    assert 0 <= float(xa.min()) and float(xa.max()) <= 1


def test_each_side_is_drawn_independently(tmp_path):
    """No pairing: the pictures of A and B in a batch come from independent draws."""
    data = load_training_data(_cfg({"name": "mnist5k", "half": "even"}, {"name": "mnist5k", "half": "odd"}))
    a, b = data.sample(64, torch.Generator().manual_seed(1))
    assert not any(torch.equal(a[i], b[i]) for i in range(64))


def test_halves_share_no_picture():
    even = load_training_data(_cfg({"name": "mnist5k", "half": "even"}, {"name": "uci_digits"})).a
    odd = load_training_data(_cfg({"name": "mnist5k", "half": "odd"}, {"name": "uci_digits"})).a
    assert len(even) + len(odd) == 4500
    first = torch.stack(even.b[:50]).flatten(1).float()
    other = torch.stack(odd.b).flatten(1).float()
    assert torch.cdist(first, other).min() > 0


def test_strokes_are_the_skeletons_of_the_digits():
    strokes, digits = built_in_set("mnist5k_strokes", "test"), built_in_set("mnist5k", "test")
    assert torch.equal(strokes.labels, digits.labels)
    s = strokes.images[0, 0]
    assert s.shape == (32, 32) and set(s.unique().tolist()) == {0, 255}
    assert (s == 0).float().mean() < 0.2  # thin dark lines on white


def test_an_empty_domain_names_its_side(tmp_path):
    a = _zip(tmp_path / "a.zip", [_picture(40, 40)] * 3)
    empty = _zip(tmp_path / "b.zip", [], extra=[("notes.txt", b"no pictures here")])
    with pytest.raises(DataError, match="domain B.*no images"):
        load_training_data(_cfg({"name": "folder", "path": str(a)}, {"name": "folder", "path": str(empty)}))
    broken = _zip(tmp_path / "c.zip", [_picture(40, 40)], extra=[("bad.png", b"not a png")])
    with pytest.raises(DataError, match="domain A.*bad.png"):
        load_training_data(_cfg({"name": "folder", "path": str(broken)}, {"name": "folder", "path": str(a)}))


def test_recipes_pair_unpaired_data_with_cyclegan_only():
    from gan_core.config import ConfigError
    with pytest.raises(ConfigError, match="unpaired"):
        load_recipe(None, {"data.name": "unpaired", "data.a": {"name": "mnist5k"}, "data.b": {"name": "uci_digits"}})
    with pytest.raises(ConfigError, match="both domains"):
        load_recipe(None, {"model.arch": "cyclegan", "data.name": "unpaired", "data.a": {"name": "mnist5k"}})
    with pytest.raises(ConfigError, match="path"):
        load_recipe(None, {"model.arch": "cyclegan", "data.name": "unpaired", "data.a": {"name": "folder"},
                           "data.b": {"name": "mnist5k"}})


def test_domain_paths_are_checked_like_every_path(tmp_path):
    from gan_core.config import ConfigError
    from gan_core.recipes import check_paths, recipe_paths
    cfg = _cfg({"name": "folder", "path": "/etc"}, {"name": "mnist5k"})
    assert recipe_paths(cfg) == {"data.a.path": "/etc"}
    with pytest.raises(ConfigError, match="data.a.path"):
        check_paths(cfg, [tmp_path])
