"""Sketch to image with a Pix2Pix generator.

A drawing (canvas strokes, an uploaded sketch, or a photo turned into edges) is padded to a
square with white, resized to the working size, thinned to the 1-pixel lines the model was
trained on, and translated. "Variations" runs the decoder's dropout at test time, as the paper
does for its only source of randomness; a seed makes each variation repeatable.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn

from ..checkpoint import CheckpointError, import_torch_state_dict, load_module, save_checkpoint
from ..config import DataConfig, Pix2PixConfig
from ..data.edges import edges_of, sketch_lines
from ..data.images import flatten_alpha, from_uint8, mnist5k, resize_images
from ..data.pairs import drawing_of, validation_photos
from ..metrics.restore import psnr_y
from ..nets.unet import UNetGenerator, official_key_map
from ..sampling import LoadedGenerator, load_generator


@dataclass
class Sketcher:
    """A loaded Pix2Pix generator with the edge settings it was trained with."""

    net: LoadedGenerator
    data: DataConfig
    _varied: nn.Module | None = field(default=None, repr=False)

    def __post_init__(self):
        # a private copy whose dropout stays on: the shared model is never switched to train mode
        if self.has_dropout:
            self._varied = copy.deepcopy(self.net.G)
            for m in self._varied.modules():
                if isinstance(m, nn.Dropout):
                    m.train()

    @property
    def model(self) -> Pix2PixConfig:
        return self.net.model

    @property
    def card(self) -> dict:
        return self.net.card

    @property
    def name(self) -> str:
        return self.card.get("name") or self.net.path.stem

    @property
    def multiple(self) -> int:
        return 2 ** self.model.unet_depth

    @property
    def has_dropout(self) -> bool:
        return any(isinstance(m, nn.Dropout) for m in self.net.G.modules())

    def work_size(self, requested: int | None = None) -> int:
        """The side pictures are translated at: the training size, or `requested` rounded to a
        multiple of 2**depth (the U-Net is fully convolutional)."""
        size = requested or self.model.img_size
        return max(self.multiple, round(size / self.multiple) * self.multiple)

    def drawing(self, img: Image.Image, size: int | None = None) -> np.ndarray:
        """A sketch (dark lines on light; any mode, alpha over white) -> uint8 (s, s) 1-pixel lines."""
        s = self.work_size(size)
        grey = ImageOps.pad(flatten_alpha(img).convert("L"), (s, s), Image.Resampling.LANCZOS, color=255)
        return sketch_lines(np.asarray(grey))

    def edges(self, img: Image.Image, size: int | None = None) -> np.ndarray:
        """A photo -> uint8 (s, s) drawing, by the model's own edge method. For 'skeleton' (strokes
        of digits) the foreground is whichever is rarer, dark or light."""
        s = self.work_size(size)
        grey = np.asarray(ImageOps.pad(flatten_alpha(img).convert("L"), (s, s), Image.Resampling.LANCZOS,
                                       color=0 if self.data.edges == "skeleton" else 255))
        if self.data.edges == "skeleton" and np.mean(grey > 127) > 0.5:
            grey = 255 - grey
        return edges_of(grey, self.data.edges, self.data.edge_sigma)

    @torch.no_grad()
    def translate(self, drawing: np.ndarray, variation: int | None = None) -> tuple[Image.Image, float]:
        """uint8 (H, W) drawing -> (picture, seconds). `variation`: a seed for test-time dropout."""
        x = from_uint8(torch.from_numpy(np.ascontiguousarray(drawing)))[None, None]
        x = x.expand(-1, self.model.in_channels, -1, -1).to(self.net.device)
        start = time.perf_counter()
        if variation is not None and self._varied is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(variation)
                y = self._varied(x)
        else:
            y = self.net.G(x)
        seconds = time.perf_counter() - start
        arr = ((y[0].float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr), seconds


def load_sketcher(path: str | Path, device: str | torch.device = "cpu") -> Sketcher:
    net = load_generator(path, device)
    if net.model.arch != "pix2pix":
        raise CheckpointError(f"{Path(path).name} is a {net.model.arch!r} model, not a Pix2Pix one")
    return Sketcher(net, DataConfig.model_validate({**DataConfig().model_dump(), **(net.card.get("data") or {})}))


# ---------------------------------------------------------------- the official weights

def official_shape(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """U-Net depth and widths read off an official UnetGenerator state dict."""
    try:
        first = state["model.model.0.weight"]      # (ngf, in_channels, 4, 4)
        last = state["model.model.3.weight"]       # ConvTranspose (2 ngf, out_channels, 4, 4)
    except KeyError as e:
        raise ValueError(f"no {e}") from None
    depth = 1  # level L's down-convolution is model.(model.1.)^L model.1.weight
    while "model." + "model.1." * depth + "model.1.weight" in state:
        depth += 1
    return {"depth": depth, "ngf": first.shape[0], "in_channels": first.shape[1], "out_channels": last.shape[1]}


def import_official_pix2pix(pth: str | Path, out: str | Path, name: str | None = None,
                            edges: str = "canny") -> Path:
    """latest_net_G.pth of junyanz/pytorch-CycleGAN-and-pix2pix (a unet_* generator with batch norm)
    -> our checkpoint. torch.load(weights_only=True): anything but tensors is refused unrun."""
    state = import_torch_state_dict(pth)
    try:
        shape = official_shape(state)
    except ValueError as e:
        sample = ", ".join(sorted(state)[:6])
        raise CheckpointError(f"{Path(pth).name}: {e}; not an official pix2pix U-Net generator (expected keys "
                              f"such as model.model.0.weight, model.model.1.model.1.weight; found {sample})") from None
    net = UNetGenerator(shape["in_channels"], shape["out_channels"], shape["depth"], shape["ngf"], dropout=True)
    ours = net.state_dict()
    mapping = official_key_map(shape["depth"])
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        mine = next((m for m, o in mapping.items() if o == module), None)
        renamed[f"{mine}.{leaf}" if mine else f"(official) {key}"] = value
    for key in ours:  # checkpoints saved before PyTorch 0.4.1 have no BN step counters
        if key.endswith("num_batches_tracked") and key not in renamed:
            renamed[key] = torch.zeros((), dtype=torch.long)
    load_module(net, {f"G.{k}": v for k, v in renamed.items()}, "G", Path(pth).name)
    size = 2 ** shape["depth"]
    model = Pix2PixConfig(img_size=size, depth=shape["depth"], in_channels=shape["in_channels"],
                          channels=shape["out_channels"], ngf=shape["ngf"], dropout=True)
    card = {"kind": "gan", "task": "pix2pix", "name": name or Path(pth).stem,
            "description": f"Official pix2pix unet_{size} imported from {Path(pth).name}",
            "imported_from": Path(pth).name, "model": model.model_dump(mode="json"),
            "data": DataConfig(name="paired", path=".", edges=edges).model_dump(mode="json"), "metrics": {}}
    return save_checkpoint(out, {f"G.{k}": v for k, v in net.state_dict().items()}, card)


# ---------------------------------------------------------------- measuring

@torch.no_grad()
def evaluate_sketcher(sk: Sketcher, n: int | None = None) -> dict[str, float]:
    """Held-out figures for a model card.

    Digit models (trained on MNIST-5k): the drawings of the 500 held-out test digits are translated
    and the metric classifier reads each result; `recognised` is the share read as the digit that
    was drawn (`classifier_on_real`: its accuracy on the real digits, the ceiling).
    Picture models: the edges of the held-out photos (scikit-learn's china and flower, shorter side
    resized to 256, centre 256x256) are translated and compared with the photo: PSNR (luma) and
    mean absolute error, beside the same figures for a plain mid-grey picture (`grey_*`): a drawing
    leaves colour open, so these figures are low by nature, and the grey baseline says how low."""
    if sk.data.name == "mnist5k":
        from ..metrics.images import default_classifier, load_classifier  # heavy: torchmetrics, ~1 s
        test = mnist5k("test")
        n = min(n or len(test), len(test))
        real = resize_images(test.images[:n], sk.model.img_size, sk.model.channels)
        drawings = torch.stack([drawing_of(d, sk.data.edges, sk.data.edge_sigma) for d in real])
        x = from_uint8(drawings).expand(-1, sk.model.in_channels, -1, -1)
        out = sk.net.G(x.to(sk.net.device)).float().cpu()
        real = from_uint8(real)
        clf = load_classifier(default_classifier())
        labels = test.labels[:n]
        return {"test_digits": n,
                "recognised": round(float((clf(out).argmax(1) == labels).float().mean()), 4),
                "classifier_on_real": round(float((clf(real).argmax(1) == labels).float().mean()), 4),
                "mean_abs_error": round(float((out - real).abs().mean() / 2), 4)}
    scores, grey = {}, {}
    for name, photo in validation_photos().items():
        img = ImageOps.fit(Image.fromarray(photo.permute(1, 2, 0).numpy()), (256, 256), Image.Resampling.LANCZOS)
        out, _ = sk.translate(sk.edges(img, 256))
        ref = np.asarray(img.convert(out.mode))
        flat = np.full_like(ref, 128)
        scores[name] = (psnr_y(np.asarray(out), ref), float(np.abs(np.asarray(out, float) - ref).mean() / 255))
        grey[name] = (psnr_y(flat, ref), float(np.abs(flat.astype(float) - ref).mean() / 255))
    mean = lambda d, i: sum(v[i] for v in d.values()) / len(d)  # noqa: E731
    return {"validation_photos": sorted(scores), "psnr_y": round(mean(scores, 0), 3),
            "mean_abs_error": round(mean(scores, 1), 4), "grey_psnr_y": round(mean(grey, 0), 3),
            "grey_mean_abs_error": round(mean(grey, 1), 4)}
