"""Super-resolution of whole pictures: tiled inference, alpha, the bicubic baseline, measurements.

`upscale` cuts the low-resolution picture into overlapping tiles, runs the model on each and
blends the outputs with feathered weights (linear ramps across every overlap, normalised by
their sum), so no seam shows. Tiles are processed one row of tiles at a time and finished rows
are written straight into the 8-bit result, so memory grows with the width of the picture,
not its area: a 4000x3000 picture upscaled 4x needs the 576 MB result and a few strips.
Alpha is upscaled apart from the colours (bicubic): the model was trained on opaque photos.

Speed on a CPU (the x4 SRResNet, 256x256 -> 1024x1024 on 2 AVX512-BF16 cores, medians of 5): in
128-pixel tiles at a fixed stride 6.0 s; tiles spread evenly (`_tiles`) 3.5 s; one 256-pixel tile
2.9 s; the net in channels_last (the layout oneDNN's convolutions work in; 8-bit output within 1
level) 2.45 s; `Upscaler.fast()`, bfloat16 autocast on CPUs that compute bfloat16 in hardware
(AVX512-BF16 or AMX), 1.3 s, with 8-bit results within 2-3 levels (mean 0.08). torch.compile gained
nothing here (2.7 s in float32, 1.7 s in bfloat16, after a first call of 10-80 s).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..checkpoint import CheckpointError, import_torch_state_dict, load_module, save_checkpoint
from ..config import SR_ARCHS, RRDBConfig
from ..data.pairs import validation_photos
from ..metrics.restore import gradient_ratio, psnr_y, ssim_y
from ..nets.rrdb import RRDBNet, from_public_state_dict, infer_rrdb_shape
from ..nets.srresnet import bicubic
from ..sampling import LoadedGenerator, load_generator

Progress = Callable[[int, int], None]


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware, so autocast to it is faster: CUDA GPUs that
    support it, CPUs with AVX512-BF16 or AMX. Elsewhere bfloat16 is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, c, lambda: False)() for c in checks)
    return False


@dataclass
class Upscaler:
    """A loaded super-resolution generator (SRResNet or RRDBNet): pictures in [0, 1].

    `precision` "bfloat16" runs the net under bfloat16 autocast (see `fast`); the default float32 is
    what the model cards' figures were measured with."""

    net: LoadedGenerator
    precision: str = "float32"

    @property
    def scale(self) -> int:
        return self.net.model.scale

    @property
    def name(self) -> str:
        return self.net.card.get("name") or self.net.path.stem

    @property
    def card(self) -> dict:
        return self.net.card

    def fast(self) -> "Upscaler":
        """The same net (shared, not copied) under bfloat16 autocast where the device computes bfloat16
        natively (`native_bfloat16`), else itself. On 2 AVX512-BF16 cores, 256x256 -> 1024x1024 by the
        x4 SRResNet takes 1.3 s instead of 2.45 s; the 8-bit result differs by at most 3 levels (mean
        0.08): bfloat16 keeps 8 bits of mantissa, and the net adds its output to a float32 bicubic."""
        return replace(self, precision="bfloat16") if native_bfloat16(self.net.device) else self

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        device = self.net.device
        x = x.to(device).contiguous(memory_format=torch.channels_last)  # the layout load_upscaler gave the net
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            y = self.net.G(x)
        return y.float().clamp_(0, 1).cpu().contiguous()

    def upscale(self, img: Image.Image, tile: int = 256, overlap: int = 16,
                progress: Progress | None = None) -> Image.Image:
        return upscale_image(img, self, self.scale, tile, overlap, progress)


def load_upscaler(path: str | Path, device: str | torch.device = "cpu") -> Upscaler:
    net = load_generator(path, device)
    if net.model.arch not in SR_ARCHS:
        raise CheckpointError(f"{Path(path).name} is a {net.model.arch!r} model, not a super-resolution one "
                              f"({', '.join(SR_ARCHS)})")
    # channels_last: oneDNN's convolutions work in that layout, so they skip a reorder before and after
    # each of the net's ~40 convolutions (2 CPU cores, 256 -> 1024 x4: 2.45 s instead of 2.9 s)
    net.G.to(memory_format=torch.channels_last)
    return Upscaler(net)


def bicubic_upscaler(scale: int) -> Callable[[Tensor], Tensor]:
    """The baseline, with the same tiling interface as a model."""
    return lambda x: bicubic(x, scale).clamp_(0, 1)


def self_ensemble(model: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """EDSR's geometric self-ensemble (Lim et al. 2017, their "+" results): the mean over the eight
    symmetries t of the square (quarter turns, each with and without a mirror) of
        G+(x) = 1/8 sum_t t^-1(G(t(x))).
    Eight passes of the model; the result is exactly equivariant, and a model that already was
    (bicubic) is unchanged."""
    def ensembled(x: Tensor) -> Tensor:
        total = None
        for turns in range(4):
            for mirror in (False, True):
                t = x.rot90(turns, (-2, -1))
                y = model(t.flip(-1) if mirror else t)
                y = (y.flip(-1) if mirror else y).rot90(-turns, (-2, -1))
                total = y if total is None else total + y
        return total / 8
    return ensembled


def periodic_pattern(model: Callable[[Tensor], Tensor], scale: int, levels: tuple[float, ...] = (0.25, 0.5, 0.75),
                     side: int = 32) -> float:
    """How much of a fixed pattern `model` stamps on flat areas, in 8-bit levels. For flat grey pictures
    of each level v (side x side), with m_v(i, j) the mean output over the pixels at (y mod scale,
    x mod scale) = (i, j), away from the border (side / 2 output pixels, so no padding is in view):
        P = max_v (max_ij m_v(i, j) - min_ij m_v(i, j)) * 255.
    Bicubic gives 0. Sub-pixel convolution (PixelShuffle) can learn a different bias for each of the
    scale x scale output phases, the checkerboard of Aitken et al. 2017, and then P is a few levels:
    a faint grid in a clear sky that no tiling or padding made."""
    flat = torch.tensor(levels, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 3, side, side)
    y = model(flat.contiguous()).mean(1)                                      # one batch: (levels, sH, sW)
    inner = y[:, side // 2: -(side // 2), side // 2: -(side // 2)]
    phases = torch.stack([inner[:, i::scale, j::scale].mean((1, 2)) for i in range(scale) for j in range(scale)], 1)
    return float((phases.max(1).values - phases.min(1).values).max()) * 255


# ---------------------------------------------------------------- tiling

def _tiles(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """(origins, size) of the tiles covering [0, length): the fewest tiles of at most `tile` pixels that
    overlap by at least `overlap`,
        n = ceil((length - overlap) / (tile - overlap)),
    all of one size s = ceil((length + (n - 1) overlap) / n) <= tile, spread evenly:
        start_i = floor(i (length - s) / (n - 1)),
    so each overlap is s - ceil((length - s) / (n - 1)) >= overlap. (Tiles of `tile` pixels at a fixed
    stride would put the last one flush with the end: a 256-pixel side in 128-pixel tiles would cost
    3 x 128 = 384 pixels of work instead of 3 x 96 = 288.)"""
    if length <= tile:
        return [0], length
    n = math.ceil((length - overlap) / (tile - overlap))
    size = -(-(length + (n - 1) * overlap) // n)
    return [i * (length - size) // (n - 1) for i in range(n)], size


def _ramp(n: int, fade_start: int, fade_end: int) -> np.ndarray:
    """1-D weights of a tile of n pixels: rising over its first fade_start pixels, falling over its
    last fade_end (0 at a picture border: no neighbour to blend with)."""
    w = np.ones(n, dtype=np.float32)
    if fade_start:
        w[:fade_start] = (np.arange(fade_start, dtype=np.float32) + 0.5) / fade_start
    if fade_end:
        w[n - fade_end:] = np.minimum(w[n - fade_end:], (np.arange(fade_end, 0, -1, dtype=np.float32) - 0.5) / fade_end)
    return w


def upscale_array(lr: np.ndarray, model: Callable[[Tensor], Tensor], scale: int, tile: int = 256,
                  overlap: int = 16, progress: Progress | None = None) -> np.ndarray:
    """uint8 (H, W, C) -> uint8 (sH, sW, C) through `model` (floats (1, C, h, w) in [0, 1] -> (1, C, sh, sw)),
    tile by tile with feathered overlaps."""
    h, w, c = lr.shape
    tile = max(tile, 2 * overlap + 1)
    (ys, th), (xs, tw) = _tiles(h, tile, overlap), _tiles(w, tile, overlap)
    out = np.empty((h * scale, w * scale, c), dtype=np.uint8)
    total, done = len(ys) * len(xs), 0
    acc = wsum = None
    acc_top = 0  # HR row where the accumulators begin
    for r, y0 in enumerate(ys):
        y1 = y0 + th
        hr_y0, hr_y1 = y0 * scale, y1 * scale
        if acc is None:
            acc = np.zeros((hr_y1 - hr_y0, w * scale, c), dtype=np.float32)
            wsum = np.zeros((hr_y1 - hr_y0, w * scale, 1), dtype=np.float32)
            acc_top = hr_y0
        elif hr_y1 - acc_top > len(acc):  # grow the strip downwards
            grow = hr_y1 - acc_top - len(acc)
            acc = np.concatenate([acc, np.zeros((grow, *acc.shape[1:]), np.float32)])
            wsum = np.concatenate([wsum, np.zeros((grow, *wsum.shape[1:]), np.float32)])
        fade_top = (ys[r - 1] + th - y0) * scale if r > 0 else 0
        fade_bottom = (y1 - ys[r + 1]) * scale if r + 1 < len(ys) else 0
        wy = _ramp(hr_y1 - hr_y0, max(fade_top, 0), max(fade_bottom, 0))
        for k, x0 in enumerate(xs):
            x1 = x0 + tw
            patch = torch.from_numpy(np.array(lr[y0:y1, x0:x1])).permute(2, 0, 1)[None].float() / 255
            sr = model(patch)[0].permute(1, 2, 0).numpy()
            if sr.shape[:2] != ((y1 - y0) * scale, (x1 - x0) * scale):
                raise ValueError(f"the model returned {sr.shape[1]}x{sr.shape[0]} for a "
                                 f"{x1 - x0}x{y1 - y0} tile; expected {scale}x that")
            fade_left = (xs[k - 1] + tw - x0) * scale if k > 0 else 0
            fade_right = (x1 - xs[k + 1]) * scale if k + 1 < len(xs) else 0
            wx = _ramp((x1 - x0) * scale, max(fade_left, 0), max(fade_right, 0))
            weight = wy[:, None, None] * wx[None, :, None]
            rows = slice(hr_y0 - acc_top, hr_y1 - acc_top)
            acc[rows, x0 * scale:x1 * scale] += sr * weight
            wsum[rows, x0 * scale:x1 * scale] += weight
            done += 1
            if progress:
                progress(done, total)
        # rows above the next tile row are final: write them out and drop them
        final = (ys[r + 1] * scale if r + 1 < len(ys) else h * scale) - acc_top
        if final > 0:
            block = acc[:final] / np.maximum(wsum[:final], 1e-8)
            out[acc_top:acc_top + final] = np.clip(block * 255 + 0.5, 0, 255).astype(np.uint8)
            acc, wsum = acc[final:], wsum[final:]
            acc_top += final
    return out


def upscale_image(img: Image.Image, model: Callable[[Tensor], Tensor], scale: int, tile: int = 256,
                  overlap: int = 16, progress: Progress | None = None) -> Image.Image:
    """A decoded picture (RGB, RGBA or L; see data.images.decode_image) upscaled by `model`.
    Grey pictures are upscaled as RGB and returned grey; alpha is upscaled by bicubic, apart."""
    mode = img.mode
    rgb = np.asarray(img.convert("RGB"))
    out = Image.fromarray(upscale_array(rgb, model, scale, tile, overlap, progress))
    if mode == "L":
        return out.convert("L")
    if mode == "RGBA":
        alpha = img.getchannel("A").resize(out.size, Image.Resampling.BICUBIC)
        out.putalpha(alpha)
    return out


# ---------------------------------------------------------------- simulate and measure

def shrink(img: Image.Image, scale: int) -> tuple[Image.Image, Image.Image]:
    """(original cropped to a multiple of `scale`, that crop shrunk `scale` times by antialiased
    bicubic): the degradation the shipped models were trained on."""
    rgb = img.convert("RGB")
    w, h = (rgb.width // scale) * scale, (rgb.height // scale) * scale
    if w < scale * 8 or h < scale * 8:
        raise ValueError(f"a {img.width}x{img.height} picture is too small to shrink {scale}x and measure")
    hr = rgb.crop((0, 0, w, h))
    x = torch.from_numpy(np.array(hr)).permute(2, 0, 1)[None].float() / 255
    lr = (bicubic(x, 1 / scale).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return hr, Image.fromarray(lr)


@dataclass
class Measured:
    method: str
    image: Image.Image
    psnr: float
    ssim: float
    seconds: float
    sharpness: float = 1.0  # metrics.restore.gradient_ratio against the original


def simulate(img: Image.Image, methods: dict[str, Callable[[Tensor], Tensor]], scale: int, tile: int = 256,
             overlap: int = 16) -> tuple[Image.Image, Image.Image, list[Measured]]:
    """Shrink `img`, restore it with each method, and measure PSNR/SSIM (Y, `scale` border) against
    the original: (original, shrunk input, one Measured per method)."""
    hr, lr = shrink(img, scale)
    ref = np.asarray(hr)
    results = []
    for name, fn in methods.items():
        start = time.perf_counter()
        out = upscale_array(np.asarray(lr), fn, scale, tile, overlap)
        seconds = time.perf_counter() - start
        results.append(Measured(name, Image.fromarray(out), psnr_y(out, ref, scale), ssim_y(out, ref, scale),
                                seconds, gradient_ratio(out, ref, scale)))
    return hr, lr, results


# ---------------------------------------------------------------- public ESRGAN weights

def import_esrgan(pth: str | Path, out: str | Path, name: str | None = None) -> Path:
    """RealESRGAN_x4plus.pth (or an ESRGAN RRDBNet .pth) -> our checkpoint (safetensors + card).
    Read with torch.load(weights_only=True): a file holding anything but tensors is refused."""
    state = from_public_state_dict(import_torch_state_dict(pth))
    try:
        shape = infer_rrdb_shape(state)
    except ValueError as e:
        sample = ", ".join(sorted(state)[:6])
        raise CheckpointError(f"{Path(pth).name}: {e}; expected Real-ESRGAN/ESRGAN RRDBNet keys such as "
                              f"conv_first.weight, body.0.rdb1.conv1.weight; found {sample}") from None
    model = RRDBConfig(scale=shape["scale"], num_feat=shape["num_feat"], num_block=shape["num_block"],
                       num_grow_ch=shape["num_grow_ch"])
    net = RRDBNet(**shape)
    load_module(net, {f"G.{k}": v for k, v in state.items()}, "G", Path(pth).name)
    card = {"kind": "gan", "task": "superres", "name": name or Path(pth).stem,
            "description": f"RRDBNet x{shape['scale']} imported from {Path(pth).name} "
                           f"({shape['num_block']} blocks, {shape['num_feat']} features)",
            "imported_from": Path(pth).name, "model": model.model_dump(mode="json"), "metrics": {}}
    return save_checkpoint(out, {f"G.{k}": v for k, v in net.state_dict().items()}, card)



def evaluate_upscaler(up: Upscaler, ensemble: bool = False) -> dict:
    """PSNR / SSIM (luma, `scale`-pixel border) and sharpness (gradient_ratio: 1 = the original's edge
    contrast) of `up` (its self_ensemble with `ensemble`) and of bicubic on the held-out photos
    (scikit-learn's china and flower, shrunk by the training degradation), for a model card."""
    per, base = {}, {}
    model = self_ensemble(up) if ensemble else up
    for name, photo in validation_photos().items():
        img = Image.fromarray(photo.permute(1, 2, 0).numpy())
        _, _, (bic, mine) = simulate(img, {"bicubic": bicubic_upscaler(up.scale), "model": model}, up.scale, tile=256)
        per[name] = {"psnr_y": round(mine.psnr, 3), "ssim_y": round(mine.ssim, 4),
                     "sharpness": round(mine.sharpness, 3)}
        base[name] = {"psnr_y": round(bic.psnr, 3), "ssim_y": round(bic.ssim, 4), "sharpness": round(bic.sharpness, 3)}
    mean = lambda d, k: round(sum(v[k] for v in d.values()) / len(d), 4)  # noqa: E731
    return {"psnr_y": mean(per, "psnr_y"), "ssim_y": mean(per, "ssim_y"), "sharpness": mean(per, "sharpness"),
            "bicubic_psnr_y": mean(base, "psnr_y"), "bicubic_ssim_y": mean(base, "ssim_y"),
            "bicubic_sharpness": mean(base, "sharpness"),
            "gain_db": round(mean(per, "psnr_y") - mean(base, "psnr_y"), 3),
            "per_image": per, "bicubic_per_image": base, "held_out": "scikit-learn china.jpg, flower.jpg"}
