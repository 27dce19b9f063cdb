"""Every picture a person might upload, and every way it can be broken."""
import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.data.images import (DataError, ImageError, decode_image, image_collection, mnist5k, resize_images,
                                  to_tensor_image, to_uint8)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_rgba_keeps_alpha_and_flattens_on_white():
    img = Image.new("RGBA", (20, 10), (255, 0, 0, 0))  # fully transparent red
    out = decode_image(png(img))
    assert out.mode == "RGBA"
    t = to_tensor_image(out, 8, 3)
    assert t.shape == (3, 8, 8) and int(t.min()) == 255  # transparent -> white


def test_16bit_greyscale_is_rescaled():
    a = np.array([[0, 32768], [65535, 65535]], dtype=np.uint16)
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    out = decode_image(png(img), min_side=1)
    assert out.mode == "L" and np.asarray(out).tolist() == [[0, 128], [255, 255]]


def test_cmyk_and_palette_become_rgb():
    buf = io.BytesIO()
    Image.new("CMYK", (9, 9), (0, 255, 255, 0)).save(buf, format="JPEG")
    out = decode_image(buf.getvalue())
    assert out.mode == "RGB" and out.getpixel((4, 4))[0] > 200  # no cyan/magenta ink... is red
    pal = Image.new("P", (9, 9), 3)
    assert decode_image(png(pal)).mode == "RGB"


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert decode_image(buf.getvalue()).size == (20, 40)


def test_text_file_named_png():
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"hello, I am text", name="notes.png")


def test_truncated_jpeg():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        decode_image(buf.getvalue()[:600], name="cut.jpg")


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("w,h", [(20_000, 20_000), (100_000, 100_000)])
def test_decompression_bomb_is_refused_before_decoding(w, h):
    with pytest.raises(ImageError, match="decompression bomb"):
        decode_image(_bomb_png(w, h), name="bomb.png")


def test_tiny_image():
    with pytest.raises(ImageError, match="too small"):
        decode_image(png(Image.new("RGB", (1, 1))), name="dot.png", min_side=8)


def test_to_uint8_inverts_batch_scaling():
    data = mnist5k("test")
    x, _ = data.batch(torch.arange(5))
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(to_uint8(x), data.images[:5])


def test_mnist5k_split_is_fixed_and_stratified():
    train, test, everything = mnist5k("train"), mnist5k("test"), mnist5k("all")
    assert len(train) == 4500 and len(test) == 500 and len(everything) == 5000
    assert torch.bincount(test.labels).tolist() == [50] * 10
    assert train.images.shape[1:] == (1, 28, 28) and train.n_classes == 10
    # no digit is in both splits
    tr = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in tr for x in test.images[:100])
    assert torch.equal(mnist5k("test").images, test.images)  # the same split every time


def test_mnist5k_cache_is_rebuilt_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    (tmp_path / "mnist5k.npz").write_bytes(b"garbage")
    assert len(mnist5k("all")) == 5000
    with np.load(tmp_path / "mnist5k.npz") as z:
        assert z["images"].shape == (5000, 28, 28)


def test_resize_images():
    x = torch.randint(0, 255, (2, 1, 28, 28), dtype=torch.uint8)
    assert resize_images(x, 64, 3).shape == (2, 3, 64, 64)
    assert torch.equal(resize_images(x, 28, 1), x)  # already the right size: unchanged


def _write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_folder_with_class_subfolders(tmp_path):
    for cls, colour in (("cats", "red"), ("dogs", "blue")):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 30), colour).save(tmp_path / cls / f"{i}.png")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    data = image_collection(tmp_path, 16, 3)
    assert data.images.shape == (6, 3, 16, 16)
    assert data.classes == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_zip_skips_non_image_files_and_says_so(tmp_path):
    z = _write_zip(tmp_path / "a.zip", {"img/a.png": png(Image.new("L", (12, 12))), "README.txt": b"hi"})
    data = image_collection(z, 16, 1)
    assert len(data) == 1 and data.labels is None
    assert data.skipped == [("README.txt", "not an image file type")]


def test_zip_with_a_broken_image_lists_it(tmp_path):
    z = _write_zip(tmp_path / "b.zip", {"ok.png": png(Image.new("L", (12, 12))), "bad.png": b"not really"})
    with pytest.raises(DataError, match=r"1 file\(s\) could not be used(?s:.*)bad.png: not an image"):
        image_collection(z, 16, 1)


def test_zip_slip_is_refused(tmp_path):
    z = _write_zip(tmp_path / "evil.zip", {"../../etc/evil.png": png(Image.new("L", (12, 12)))})
    with pytest.raises(DataError, match="escape the archive"):
        image_collection(z, 16, 1)


def test_empty_and_broken_archives(tmp_path):
    with pytest.raises(DataError, match="no images found"):
        image_collection(_write_zip(tmp_path / "e.zip", {"notes.txt": b"x"}), 16, 1)
    (tmp_path / "fake.zip").write_bytes(b"PK but not really")
    with pytest.raises(DataError, match="not a readable .zip"):
        image_collection(tmp_path / "fake.zip", 16, 1)
    with pytest.raises(DataError, match="no such folder"):
        image_collection(tmp_path / "missing", 16, 1)


def test_too_many_images(tmp_path):
    members = {f"{i}.png": png(Image.new("L", (12, 12))) for i in range(5)}
    with pytest.raises(DataError, match="more than 3 images"):
        image_collection(_write_zip(tmp_path / "m.zip", members), 16, 1, max_images=3)


def test_classes_select_the_normal_class_or_leave_one_out():
    from gan_core.recipes import load_recipe
    from gan_core.data.images import load_images
    only3 = load_images(load_recipe(None, ["data.classes=[3]"]).data, 28, 1)
    assert len(only3) == 450 and set(only3.labels.tolist()) == {3}
    but1 = load_images(load_recipe(None, ["data.exclude_classes=[1]"]).data, 28, 1)
    assert len(but1) == 4050 and 1 not in set(but1.labels.tolist())
    with pytest.raises(DataError, match="no class \\[12\\]"):
        load_images(load_recipe(None, ["data.classes=[12]"]).data, 28, 1)
