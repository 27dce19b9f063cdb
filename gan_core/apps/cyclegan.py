"""Unpaired translation with a CycleGAN: translate, show the cycle, measure, import official weights.

A picture goes in on one side (A or B) and comes out on the other; `cycle` sends the result back,
x -> G_XY(x) -> G_YX(G_XY(x)), with the reconstruction error |G_YX(G_XY(x)) - x|_1 the cycle
loss trained down, and `identity` shows G_XY(y) for a y already of the target side.

Digits models (both sides built-in digit sets) prepare a picture the way their side looks:
MNIST light on dark with the ink's box fitted into 20/28 of the side, UCI digits as 8x8 cells
shown as blocks, strokes as 1-pixel dark lines on white. Photo
models (imported official generators, or trained on folders) work at `size` on the shorter side
(256 by default, the official test size), tiled with feathered overlaps above `tile`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor

from ..checkpoint import CheckpointError, import_torch_state_dict, load_module, save_checkpoint
from ..config import CycleGANConfig
from ..data.edges import sketch_lines
from ..data.images import ImageData, flatten_alpha, from_uint8, resize_images, to_uint8, uci_layout
from ..data.unpaired import BUILT_IN, built_in_set
from ..nets.cyclegan import from_official, official_shape
from ..paths import checkpoints_dir
from ..sampling import LoadedGenerator, load_generator
from .superres import Progress, upscale_array

DIRECTIONS = ("a2b", "b2a")
STROKES = "mnist5k_strokes"
CLASSIFIERS = {"mnist5k": "mnist_classifier.safetensors", "uci_digits": "uci_digits_classifier.safetensors"}


def sides(direction: str) -> tuple[str, str]:
    """('a', 'b') for a2b, ('b', 'a') for b2a: the side a picture comes from and the side it goes to."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; use a2b or b2a")
    return (direction[0], direction[2])


@dataclass
class Cycle:
    """x -> y = G_XY(x) -> rec = G_YX(y); `error` is mean |rec - x| on a 0..1 scale."""

    x: Image.Image
    y: Image.Image
    rec: Image.Image | None
    error: float | None


@dataclass
class Translator:
    """A loaded CycleGAN: its generators and what each side holds."""

    net: LoadedGenerator

    @property
    def model(self) -> CycleGANConfig:
        return self.net.model

    @property
    def card(self) -> dict:
        return self.net.card

    @property
    def name(self) -> str:
        return self.card.get("name") or self.net.path.stem

    @property
    def directions(self) -> tuple[str, ...]:
        return DIRECTIONS if self.model.generators == "both" else ("a2b",)

    @property
    def data(self) -> dict:
        """The recipe's data section: an export's card holds it, a training state's within its config."""
        return self.card.get("data") or (self.card.get("config") or {}).get("data") or {}

    @property
    def train(self) -> dict:
        return self.card.get("train") or (self.card.get("config") or {}).get("train") or {}

    def source(self, side: str) -> str | None:
        """The built-in set of a side ('mnist5k', 'uci_digits', 'mnist5k_strokes'), or None."""
        src = self.data.get(side) or {}
        return src.get("name") if src.get("name") in BUILT_IN else None

    def side_name(self, side: str) -> str:
        """What a side holds, in words: the built-in set, the folder, or an imported model's names."""
        named = (self.card.get("domains") or {}).get(side)
        if named:
            return named
        src = self.data.get(side) or {}
        if src.get("name") in BUILT_IN:
            return BUILT_IN[src["name"]]
        return Path(src.get("path") or side.upper()).name

    @property
    def is_digits(self) -> bool:
        return self.source("a") is not None and self.source("b") is not None

    def channels(self, side: str) -> int:
        return self.model.channels_a if side == "a" else self.model.channels_b

    # ------------------------------------------------------------------ running the nets

    @torch.no_grad()
    def run(self, x: Tensor, direction: str) -> Tensor:
        """(N, C, H, W) in [-1, 1] -> the other side, same size. Sides that are not multiples of 4
        are reflection-padded for the generator's two halvings and cropped back."""
        G = self.net.G.direction(direction)
        h, w = x.shape[-2:]
        ph, pw = -h % 4, -w % 4
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        return G(xp.to(self.net.device)).float()[..., :h, :w].cpu()

    def prepare(self, img: Image.Image, side: str, size: int | None = None) -> Tensor:
        """A picture -> (1, C, H, W) in [-1, 1] as the side's pictures look (see the module docstring)."""
        img = flatten_alpha(img)
        src = self.source(side)
        if src is None:
            s = size or 256
            w, h = img.size
            k = s / min(w, h)
            img = img.resize((max(4, round(w * k)), max(4, round(h * k))), Image.Resampling.LANCZOS)
            mode = "L" if self.channels(side) == 1 else "RGB"
            arr = torch.from_numpy(np.array(img.convert(mode)))
            t = arr[None] if arr.ndim == 2 else arr.permute(2, 0, 1)
            return from_uint8(t)[None]
        s = self.model.img_size
        grey = img.convert("L")
        if src == "mnist5k_strokes":  # dark lines on white, thinned to 1 pixel like the training strokes
            arr = np.asarray(ImageOps.pad(grey, (s, s), Image.Resampling.LANCZOS, color=255))
            if np.mean(arr < 128) > 0.5:
                arr = 255 - arr
            arr = sketch_lines(arr)
        else:  # digits light on dark (a dark digit on paper is inverted), cut to the ink's box
            arr = np.asarray(grey)
            if np.mean(arr) > 127:
                arr = 255 - arr
            ink = ImageOps.pad(Image.fromarray(arr).crop(_ink_box(arr)), (64, 64), Image.Resampling.LANCZOS, color=0)
            if src == "uci_digits":  # as UCI made its digits: the box fills 8x8 cells, shown as blocks
                cells = torch.from_numpy(np.array(ink.resize((8, 8), Image.Resampling.BOX)))[None, None]
                arr = uci_layout(cells)[0, 0].numpy()
                if s != arr.shape[0]:
                    arr = np.asarray(Image.fromarray(arr).resize((s, s), Image.Resampling.NEAREST))
            else:  # as MNIST made its digits: the box fitted into 20/28 of the side, centred
                inner = round(s * 20 / 28)
                canvas = Image.new("L", (s, s), 0)
                canvas.paste(ink.resize((inner, inner), Image.Resampling.LANCZOS), ((s - inner) // 2,) * 2)
                arr = np.asarray(canvas)
        t = from_uint8(torch.from_numpy(np.array(arr)))[None, None]
        return t.expand(-1, self.channels(side), -1, -1)

    def translate(self, img: Image.Image, direction: str, size: int | None = None, tile: int = 512,
                  overlap: int = 32, progress: Progress | None = None) -> Image.Image:
        """A picture -> the other side's version of it. Photo models above `tile` pixels run tile by
        tile, blended across the overlaps (instance norm sees each tile's own statistics, so big
        pictures are done in pieces a little unlike the whole)."""
        src_side, _ = sides(direction)
        x = self.prepare(img, src_side, size)
        if self.source(src_side) is None and max(x.shape[-2:]) > tile:
            rgb = to_uint8(x[0]).permute(1, 2, 0).numpy()
            if rgb.shape[-1] == 1:
                rgb = np.repeat(rgb, 3, axis=-1)
            channels = self.channels(src_side)

            def model(t: Tensor) -> Tensor:  # [0, 1] RGB tiles in and out
                t = t * 2 - 1
                t = t.mean(1, keepdim=True) if channels == 1 else t
                out = (self.run(t, direction) + 1) / 2
                return out.expand(-1, 3, -1, -1) if out.shape[1] == 1 else out
            arr = upscale_array(rgb, model, 1, tile, overlap, progress)
            return Image.fromarray(arr[..., 0] if self.channels(sides(direction)[1]) == 1 else arr)
        return picture(self.run(x, direction))

    def cycle(self, img: Image.Image, direction: str, size: int | None = None) -> Cycle:
        """x, G_XY(x) and, when the model has both generators, G_YX(G_XY(x)) with |rec - x|_1."""
        src_side, _ = sides(direction)
        x = self.prepare(img, src_side, size)
        y = self.run(x, direction)
        back = "b2a" if direction == "a2b" else "a2b"
        if back not in self.directions:
            return Cycle(picture(x), picture(y), None, None)
        rec = self.run(y, back)
        return Cycle(picture(x), picture(y), picture(rec), round(float((rec - x).abs().mean() / 2), 4))

    def identity(self, img: Image.Image, direction: str,
                 size: int | None = None) -> tuple[Image.Image, Image.Image, float]:
        """(y, G_XY(y), mean |G_XY(y) - y| on 0..1) for a picture y of the target side."""
        _, target = sides(direction)
        y = self.prepare(img, target, size)
        if self.channels(target) != self.channels(sides(direction)[0]):
            raise ValueError("the identity mapping needs sides with the same number of channels")
        out = self.run(y, direction)
        return picture(y), picture(out), round(float((out - y).abs().mean() / 2), 4)


def _ink_box(arr: np.ndarray, level: int = 40) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels brighter than `level` (the whole picture if none)."""
    rows, cols = np.flatnonzero((arr > level).any(1)), np.flatnonzero((arr > level).any(0))
    if not len(rows):
        return (0, 0, arr.shape[1], arr.shape[0])
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def picture(x: Tensor) -> Image.Image:
    """(1, C, H, W) in [-1, 1] -> a PIL picture (L or RGB)."""
    arr = to_uint8(x[0]).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def load_translator(path: str | Path, device: str | torch.device = "cpu") -> Translator:
    net = load_generator(path, device)
    if net.model.arch != "cyclegan":
        raise CheckpointError(f"{Path(path).name} is a {net.model.arch!r} model, not a CycleGAN")
    return Translator(net)


# ---------------------------------------------------------------- measuring (digits models)

def held_out(tr: Translator, side: str) -> ImageData | None:
    """The test split of a side's built-in set (never trained on), or None for folder sides."""
    src = tr.source(side)
    return None if src is None else built_in_set(src, "test")


def side_classifier(tr: Translator, side: str):
    """The classifier that reads a side's digits (MNIST or UCI), or None (strokes, photos)."""
    name = CLASSIFIERS.get(tr.source(side) or "")
    if name is None:
        return None
    from ..metrics.images import load_classifier  # heavy: torchmetrics
    return load_classifier(Path(checkpoints_dir()) / name)


@dataclass
class Readings:
    """Held-out inputs of one side, their translations, true labels and the target classifier's readings."""

    inputs: Tensor
    outputs: Tensor
    labels: Tensor
    read: Tensor | None

    @property
    def preserved(self) -> float | None:
        return None if self.read is None else round(float((self.read == self.labels).float().mean()), 4)


@torch.no_grad()
def readings(tr: Translator, direction: str, n: int | None = None, seed: int | None = None,
             classifier=None) -> Readings:
    """The held-out digits of the source side (all, or n drawn with `seed`) translated, and read by
    the target side's classifier: does a 3 stay a 3?"""
    src_side, target = sides(direction)
    data = held_out(tr, src_side)
    if data is None:
        raise ValueError(f"side {src_side.upper()} is not a built-in digit set, so there are no held-out labels")
    idx = torch.arange(len(data))
    if n is not None and n < len(data):
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed or 0))[:n]
    size, c = tr.model.img_size, tr.channels(src_side)
    x = from_uint8(resize_images(data.images[idx], size, c))
    out = torch.cat([tr.run(chunk, direction) for chunk in x.split(500)])
    clf = classifier if classifier is not None else side_classifier(tr, target)
    read = None if clf is None else torch.cat([clf(chunk).argmax(1) for chunk in out.split(500)])
    return Readings(x, out, data.labels[idx], read)


@torch.no_grad()
def evaluate_translator(tr: Translator) -> dict:
    """Held-out figures for a model card (digits models): per direction whose target side has a
    classifier, the share of translated test digits read as their own class (`a2b_preserved`,
    `b2a_preserved`) beside that classifier's accuracy on real test digits of its side (the ceiling);
    the cycle error |G_YX(G_XY(x)) - x|_1 on 0..1 per side; for a strokes side, the share of its
    pixels that are ink (darker than mid-grey) in G's strokes and in real ones (`b2a_ink`,
    `real_ink_a`): mostly white, strokes keep a small cycle error even when none are drawn. Between
    two digit sets, `a2b_resampled` / `b2a_resampled` read the held-out digits merely resampled into
    the other side's layout (`prepare`, no network): what a translation that only changes the
    resolution keeps, since each classifier knows one set of hands."""
    if not tr.is_digits:
        raise ValueError(f"{tr.name}: held-out measures exist for the digits models (both sides built-in sets)")
    out: dict = {}
    for direction in tr.directions:
        src_side, target = sides(direction)
        clf = side_classifier(tr, target)
        r = readings(tr, direction, classifier=clf)
        out[f"test_{src_side}"] = len(r.labels)
        if clf is not None:
            out[f"{direction}_preserved"] = r.preserved
            real = held_out(tr, target)
            x = from_uint8(resize_images(real.images, tr.model.img_size, tr.channels(target)))
            out[f"classifier_{target}_on_real"] = round(float((clf(x).argmax(1) == real.labels).float().mean()), 4)
        if clf is not None and STROKES not in (tr.source(src_side), tr.source(target)):
            # no network at all: each digit cut to its ink's box and laid out as the other side's are
            data = held_out(tr, src_side)
            x = torch.cat([tr.prepare(Image.fromarray(im[0].numpy()), target) for im in data.images])
            read = torch.cat([clf(chunk).argmax(1) for chunk in x.split(500)])
            out[f"{direction}_resampled"] = round(float((read == data.labels).float().mean()), 4)
        if tr.source(target) == STROKES:  # strokes are ink on white: is any drawn?
            real = from_uint8(resize_images(held_out(tr, target).images, tr.model.img_size, tr.channels(target)))
            out[f"{direction}_ink"] = round(float((r.outputs < 0).float().mean()), 4)
            out[f"real_ink_{target}"] = round(float((real < 0).float().mean()), 4)
        back = "b2a" if direction == "a2b" else "a2b"
        if back in tr.directions:
            rec = torch.cat([tr.run(chunk, back) for chunk in r.outputs.split(500)])
            out[f"cycle_error_{src_side}"] = round(float((rec - r.inputs).abs().mean() / 2), 4)
    return out


# ---------------------------------------------------------------- the official weights

def _side_names(stem: str) -> dict[str, str]:
    """'horse2zebra' -> {'a': 'horse', 'b': 'zebra'}; else A and B."""
    base = stem.removesuffix("_pretrained")
    if "2" in base:
        a, _, b = base.partition("2")
        if a and b:
            return {"a": a, "b": b}
    return {"a": "A", "b": "B"}


def _official(pth: str | Path) -> tuple[dict[str, Tensor], dict]:
    state = import_torch_state_dict(pth)
    try:
        shape = official_shape(state)
    except ValueError as e:
        sample = ", ".join(sorted(state)[:6])
        raise CheckpointError(f"{Path(pth).name}: {e}; not an official CycleGAN ResNet generator (expected keys "
                              f"such as model.1.weight, model.10.conv_block.1.weight; found {sample})") from None
    return from_official(state), shape


def import_official_cyclegan(g_a: str | Path, out: str | Path, g_b: str | Path | None = None,
                             name: str | None = None) -> Path:
    """latest_net_G_A.pth (A -> B) and optionally latest_net_G_B.pth (B -> A) of
    junyanz/pytorch-CycleGAN-and-pix2pix, or a one-way `*_pretrained/latest_net_G.pth`, -> our
    checkpoint. torch.load(weights_only=True): anything but tensors is refused unrun; the shape
    (blocks, width, channels, dropout) is read off the keys."""
    state_a, shape = _official(g_a)
    state_b = None
    if g_b is not None:
        state_b, shape_b = _official(g_b)
        flipped = {**shape_b, "in_channels": shape_b["out_channels"], "out_channels": shape_b["in_channels"]}
        if flipped != shape:
            raise CheckpointError(f"{Path(g_b).name} does not fit {Path(g_a).name}: G_A is {shape}, G_B is {shape_b} "
                                  "(G_B must map B back to A with the same blocks and width)")
    model = CycleGANConfig(img_size=256, channels_a=shape["in_channels"], channels_b=shape["out_channels"],
                           ngf=shape["ngf"], n_blocks=shape["n_blocks"], dropout=shape["dropout"],
                           generators="both" if state_b is not None else "a2b")
    G, _ = model.build()
    tensors = {f"G.ab.{k}": v for k, v in state_a.items()}
    if state_b is not None:
        tensors.update({f"G.ba.{k}": v for k, v in state_b.items()})
    load_module(G, tensors, "G", Path(g_a).name)
    stem = name or Path(g_a).parent.name or Path(g_a).stem
    card = {"kind": "gan", "task": "cyclegan", "name": name or stem,
            "description": f"Official CycleGAN resnet_{shape['n_blocks']}blocks imported from {Path(g_a).name}"
                           + (f" and {Path(g_b).name}" if g_b else " (one way, A -> B)"),
            "imported_from": [Path(p).name for p in (g_a, g_b) if p], "model": model.model_dump(mode="json"),
            "domains": _side_names(stem), "metrics": {}}
    return save_checkpoint(out, {f"G.{k}": v for k, v in G.state_dict().items()}, card)
