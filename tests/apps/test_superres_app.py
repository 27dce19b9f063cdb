"""Super-resolution of whole pictures: seamless tiles, bounded memory, every picture mode, measuring,
and importing public ESRGAN weights."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.apps.superres import (_tiles, bicubic_upscaler, import_esrgan, load_upscaler, native_bfloat16,
                                    periodic_pattern, self_ensemble, shrink, simulate, upscale_array, upscale_image)
from gan_core.checkpoint import CheckpointError
from gan_core.train import make_trainer
from public_layouts import official_unet_state, public_rrdb_state


def nearest(scale):
    return lambda x: x.repeat_interleave(scale, -1).repeat_interleave(scale, -2)


@pytest.fixture
def upscaler(tiny_sr_cfg, tmp_path):
    return load_upscaler(make_trainer(tiny_sr_cfg(), "cpu").export(tmp_path / "sr"))


@pytest.mark.parametrize("h,w,tile,overlap", [(77, 131, 32, 8), (40, 40, 16, 4), (10, 90, 32, 8), (5, 5, 64, 8)])
def test_tiles_blend_back_into_the_whole_picture(h, w, tile, overlap):
    lr = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    tiled = upscale_array(lr, nearest(3), 3, tile, overlap)
    assert np.array_equal(tiled, np.asarray(Image.fromarray(lr).resize((3 * w, 3 * h), Image.Resampling.NEAREST)))


def test_no_seams_with_a_model_that_sees_its_neighbours():
    lr = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    whole = upscale_array(lr, bicubic_upscaler(2), 2, tile=1000).astype(int)
    tiled = upscale_array(lr, bicubic_upscaler(2), 2, tile=32, overlap=8).astype(int)
    # bicubic reads 2 pixels around each: a tile's own border differs, the feathering hides it
    assert np.abs(tiled - whole).mean() < 0.5 and np.abs(tiled - whole).max() <= 12


def test_tiles_are_as_few_as_the_overlap_allows_and_spread_evenly():
    assert _tiles(256, 128, 16) == ([0, 80, 160], 96)               # not 0, 112, 128 in tiles of 128
    assert _tiles(192, 256, 16) == ([0], 192) and _tiles(256, 256, 16) == ([0], 256)
    rng = np.random.default_rng(4)
    for _ in range(500):
        overlap = int(rng.integers(0, 20))
        tile = int(rng.integers(2 * overlap + 1, 300))
        length = int(rng.integers(1, 2000))
        starts, size = _tiles(length, tile, overlap)
        n = len(starts)
        assert size <= tile and starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))   # each overlap >= overlap
        assert n == 1 or n == -(-(length - overlap) // (tile - overlap))          # the fewest tiles


def test_progress_counts_every_tile():
    seen = []
    upscale_array(np.zeros((50, 70, 3), np.uint8), nearest(2), 2, 32, 8, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(i, 6) for i in range(1, 7)]                      # 2 rows x 3 columns


def test_grey_rgba_and_rgb_keep_their_mode(upscaler):
    for mode, colour in (("L", 120), ("RGB", (10, 200, 30)), ("RGBA", (10, 200, 30, 128))):
        out = upscaler.upscale(Image.new(mode, (12, 9), colour))
        assert out.mode == mode and out.size == (24, 18)
    rgba = Image.new("RGBA", (12, 9), (255, 0, 0, 0))
    rgba.putpixel((3, 3), (255, 0, 0, 255))
    alpha = np.asarray(upscaler.upscale(rgba).getchannel("A"))
    assert alpha[6:8, 6:8].min() > 100 and alpha[:, 16:].max() == 0  # alpha upscaled apart, not blurred away


def test_the_model_returns_the_scale_it_claims(upscaler):
    assert upscaler.scale == 2
    out = upscaler(torch.rand(1, 3, 10, 14))
    assert out.shape == (1, 3, 20, 28) and 0 <= float(out.min()) and float(out.max()) <= 1


def test_a_model_of_the_wrong_scale_is_caught():
    with pytest.raises(ValueError, match="expected 4x"):
        upscale_array(np.zeros((8, 8, 3), np.uint8), nearest(2), 4)


def test_shrink_then_measure_against_the_original():
    photo = Image.fromarray(np.random.default_rng(2).integers(0, 256, (67, 101, 3), dtype=np.uint8))
    hr, lr = shrink(photo, 4)
    assert hr.size == (100, 64) and lr.size == (25, 16)
    original, small, results = simulate(photo, {"bicubic": bicubic_upscaler(4), "nearest": nearest(4)}, 4)
    assert [r.method for r in results] == ["bicubic", "nearest"]
    assert all(r.image.size == (100, 64) and np.isfinite(r.psnr) and 0 < r.ssim < 1 for r in results)
    with pytest.raises(ValueError, match="too small"):
        shrink(Image.new("RGB", (20, 20)), 4)


def test_a_model_that_knows_the_picture_scores_infinite_psnr():
    photo = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    hr, _ = shrink(photo, 2)
    truth = torch.from_numpy(np.asarray(hr)).permute(2, 0, 1)[None].float() / 255
    _, _, (r,) = simulate(photo, {"oracle": lambda x: truth}, 2, tile=1000)
    assert r.psnr == float("inf") and r.ssim == pytest.approx(1.0)


def test_public_esrgan_weights_import_and_upscale(tmp_path):
    torch.save({"params_ema": public_rrdb_state()}, tmp_path / "RealESRGAN_x4plus.pth")
    up = load_upscaler(import_esrgan(tmp_path / "RealESRGAN_x4plus.pth", tmp_path / "realesrgan"))
    assert up.scale == 4 and up.net.model.arch == "rrdb" and up.net.model.num_block == 2
    assert up.upscale(Image.new("RGB", (8, 6), "gray")).size == (32, 24)


def test_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"params_ema": Payload()}))
    with pytest.raises(CheckpointError, match="refused"):
        import_esrgan(tmp_path / "evil.pth", tmp_path / "out")
    assert not marker.exists()


def test_weights_of_another_architecture_are_named(tmp_path):
    torch.save(official_unet_state(3, 3, 5, 4), tmp_path / "latest_net_G.pth")
    with pytest.raises(CheckpointError, match="(?s)RRDBNet keys.*model.model.0.weight"):
        import_esrgan(tmp_path / "latest_net_G.pth", tmp_path / "out")
    bent = public_rrdb_state()
    bent["conv_hr.weight"] = torch.zeros(8, 8, 5, 5)
    torch.save(bent, tmp_path / "bent.pth")
    with pytest.raises(CheckpointError, match="(?s)shape mismatches.*conv_hr.weight"):
        import_esrgan(tmp_path / "bent.pth", tmp_path / "out")


def test_a_pix2pix_checkpoint_is_not_an_upscaler(tiny_pix2pix_cfg, tmp_path):
    path = make_trainer(tiny_pix2pix_cfg(), "cpu").export(tmp_path / "p2p")
    with pytest.raises(CheckpointError, match="not a super-resolution"):
        load_upscaler(path)


def test_upscale_image_takes_a_plain_callable_too():
    out = upscale_image(Image.new("L", (5, 4), 77), bicubic_upscaler(2), 2)
    assert out.mode == "L" and out.size == (10, 8) and np.asarray(out).min() == 77


SYMMETRIES = [lambda x, k=k, m=m: (x.rot90(k, (-2, -1)).flip(-1) if m else x.rot90(k, (-2, -1)))
              for k in range(4) for m in (False, True)]


def test_self_ensemble_of_any_model_is_equivariant(upscaler):
    x = torch.rand(1, 3, 9, 13)
    plus = self_ensemble(upscaler)
    out = plus(x)
    assert out.shape == (1, 3, 18, 26)
    assert not torch.allclose(upscaler(x), out, atol=1e-4)      # the net alone is not: the passes differ
    for t in SYMMETRIES:
        torch.testing.assert_close(plus(t(x)), t(out), atol=1e-5, rtol=0)


def test_self_ensemble_leaves_an_equivariant_method_unchanged():
    x = torch.rand(2, 3, 7, 11)  # not square: every turn is undone before the mean
    torch.testing.assert_close(self_ensemble(bicubic_upscaler(4))(x), bicubic_upscaler(4)(x), atol=1e-5, rtol=0)


def test_the_net_runs_in_channels_last_with_the_same_result(upscaler):
    conv = next(m for m in upscaler.net.G.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        plain = upscaler.net.G.to(memory_format=torch.contiguous_format)(x).clamp(0, 1)
    upscaler.net.G.to(memory_format=torch.channels_last)
    torch.testing.assert_close(upscaler(x), plain, atol=1e-5, rtol=0)


def test_fast_shares_the_net_and_stays_within_a_few_levels(upscaler):
    fast = upscaler.fast()
    assert fast.net is upscaler.net and upscaler.precision == "float32"   # the shared model is not changed
    assert fast.precision == ("bfloat16" if native_bfloat16(torch.device("cpu")) else "float32")
    x = torch.rand(1, 3, 24, 20)
    diff = (fast(x) - upscaler(x)).abs() * 255
    assert float(diff.max()) <= 4 and float(diff.mean()) < 0.5


def test_periodic_pattern_measures_a_fixed_stamp_on_flat_pictures():
    assert periodic_pattern(bicubic_upscaler(4), 4) == 0
    stamp = torch.zeros(2, 2)
    stamp[0, 0] = 6 / 255                                            # one pixel of every 2x2 block 6 levels up

    def stamped(x):
        return nearest(2)(x) + stamp.repeat(x.shape[-2], x.shape[-1])
    assert periodic_pattern(stamped, 2) == pytest.approx(6, abs=1e-3)
    assert periodic_pattern(self_ensemble(stamped), 2) == pytest.approx(0, abs=1e-3)  # the 8 symmetries average it
