"""Load a generator from a checkpoint and draw samples from it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from pydantic import TypeAdapter, ValidationError
from torch import Tensor, nn
from torchvision.utils import make_grid

from .checkpoint import CheckpointError, load_module, read_checkpoint
from .config import ModelConfig
from .data.images import to_uint8
from .devices import resolve_device
from .nets import build_gan, sample_noise

_MODEL = TypeAdapter(ModelConfig)


@dataclass
class LoadedGenerator:
    G: nn.Module
    card: dict[str, Any]
    model: Any  # DCGANConfig | MLPConfig
    device: torch.device
    path: Path

    @property
    def n_classes(self) -> int:
        return self.model.n_classes

    @property
    def classes(self) -> list[str]:
        return list(self.card.get("classes") or [str(k) for k in range(self.n_classes)])

    @property
    def is_image(self) -> bool:
        return self.model.arch == "dcgan"

    def noise(self, n: int, seed: int, truncation: float | None = None) -> Tensor:
        """z for `seed`, drawn on the CPU so a seed gives the same samples on every device.

        Truncation (normal noise only): entries with |z| > t are redrawn until inside,
        trading variety for typicality."""
        g = torch.Generator().manual_seed(seed)
        z = sample_noise(n, self.model.nz, self.model.noise, generator=g)
        if truncation is not None and self.model.noise == "normal":
            for _ in range(100):
                out = z.abs() > truncation
                if not out.any():
                    break
                z[out] = torch.randn(int(out.sum()), generator=g)
            z.clamp_(-truncation, truncation)
        return z

    @torch.no_grad()
    def __call__(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.n_classes:
            if labels is None:
                raise ValueError(f"{self.path.name} is class-conditional: give a label 0..{self.n_classes - 1}")
            labels = torch.as_tensor(labels, dtype=torch.int64).expand(len(z)).to(self.device)
            if labels.min() < 0 or labels.max() >= self.n_classes:
                raise ValueError(f"label must be in 0..{self.n_classes - 1}")
        return self.G(z.to(self.device), labels).float().cpu()

    def sample(self, n: int, seed: int = 0, labels: Tensor | int | None = None,
               truncation: float | None = None) -> Tensor:
        """n samples in [-1, 1] (images: (n, C, H, W)); `labels` a class or one per sample."""
        return self(self.noise(n, seed, truncation), labels)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> LoadedGenerator:
    """The generator of a shipped/exported checkpoint (kind 'gan') or of a run's training state."""
    tensors, card = read_checkpoint(path)
    if card.get("kind") not in ("gan", "training-state"):
        raise CheckpointError(f"{Path(path).name}: holds a {card.get('kind')!r} model, not a GAN generator")
    try:
        model = _MODEL.validate_python(card.get("model"))
    except ValidationError as e:
        raise CheckpointError(f"{Path(path).name}: the model card describes an architecture this version "
                              f"cannot build ({e.error_count()} problem(s): {e.errors()[0]['msg']})") from None
    G, _ = build_gan(model)
    prefix = "G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G"
    load_module(G, tensors, prefix, Path(path).name)
    dev = resolve_device(device)
    return LoadedGenerator(G.to(dev).eval(), card, model, dev, Path(path))


def grid_image(x: Tensor, nrow: int, padding: int = 2) -> Image.Image:
    """A batch in [-1, 1] -> one PIL image, nrow images per row, on a white background."""
    grid = make_grid(to_uint8(x), nrow=nrow, padding=padding, pad_value=255)
    arr = grid.permute(1, 2, 0).numpy()
    return Image.fromarray(arr[..., 0] if x.shape[1] == 1 else arr)
