"""Load a generator from a checkpoint and draw samples from it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import TypeAdapter, ValidationError
from torch import Tensor, nn

from .checkpoint import CheckpointError, generator_prefix, load_module, read_checkpoint
from .config import ModelConfig, build_gan
from .data.clusters import draw_labels
from .data.images import grid_image, to_uint8  # noqa: F401 (grid_image: for the pages and CLI)
from .devices import resolve_device
from .nets import sample_noise

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
    def n_codes(self) -> int:
        """K of an InfoGAN model's categorical code (0: none)."""
        return getattr(self.model, "n_codes", 0)

    @property
    def classes(self) -> list[str]:
        return list(self.card.get("classes") or [str(k) for k in range(self.n_classes)])

    @property
    def label_prior(self) -> Tensor | None:
        """p(c) of a self-conditioned model's groups (data.clusters), None for real classes."""
        prior = self.card.get("label_prior")
        if not self.n_classes or not isinstance(prior, list) or len(prior) != self.n_classes:
            return None
        try:
            p = torch.tensor(prior, dtype=torch.float64)
        except (TypeError, ValueError):
            return None
        return p if bool(torch.isfinite(p).all() and (p >= 0).all() and p.sum() > 0) else None

    @property
    def self_conditioned(self) -> bool:
        """Its classes are groups it found in unlabeled data: sampled by their prior, not chosen by meaning."""
        return self.label_prior is not None

    def draw_labels(self, n: int) -> Tensor | None:
        """Labels for n samples 'as the training data has them': each group at its share of the
        training pictures (stratified) for a self-conditioned model, every class in turn otherwise."""
        return draw_labels(n, self.n_classes, self.label_prior)

    @property
    def is_image(self) -> bool:
        return self.model.family == "image"

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
               truncation: float | None = None, codes: Tensor | int | None = None) -> Tensor:
        """n samples in [-1, 1] (images: (n, C, H, W)); `labels` a class or one per sample (for a
        self-conditioned model, the seed's own groups, drawn by their prior, when None); `codes` an
        InfoGAN code or one per sample (the seed's own codes when None)."""
        z = self.noise(n, seed, truncation)
        if labels is None and self.self_conditioned:  # a stream of its own: z stays the seed's z
            labels = torch.multinomial(self.label_prior, n, replacement=True,
                                       generator=torch.Generator().manual_seed(seed + 7_919))
        if codes is not None:
            if not self.n_codes:
                raise ValueError(f"{self.path.name} has no categorical code")
            codes = torch.as_tensor(codes, dtype=torch.int64).expand(n)
            if codes.min() < 0 or codes.max() >= self.n_codes:
                raise ValueError(f"code must be in 0..{self.n_codes - 1}")
            z = with_code(z, codes, self.n_codes)
        return self(z, labels)


def with_code(z: Tensor, codes: Tensor, n_codes: int) -> Tensor:
    """z with its InfoGAN code c = argmax(z_1..z_K) set to `codes`: the largest of the first K
    entries trades places with entry `code`. The K entries are i.i.d., so this permutation leaves
    the distribution of z given c = code what it is for a z that drew that code itself."""
    z = z.clone()
    rows = torch.arange(len(z))
    top = z[:, :n_codes].argmax(dim=1)
    largest, displaced = z[rows, top].clone(), z[rows, codes].clone()
    z[rows, top] = displaced
    z[rows, codes] = largest
    return z


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Spherical interpolation between latent vectors (White 2016), rows of a and b:
    slerp(a, b, t) = sin((1-t) w)/sin(w) a + sin(t w)/sin(w) b,  cos w = <a, b>/(|a||b|).
    Gaussian z live near a sphere; a straight line would pass through improbable short vectors."""
    t = torch.as_tensor(t, dtype=a.dtype).reshape(-1, 1)
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True)).clamp_min(1e-12)
    omega = torch.acos(cos.clamp(-1.0, 1.0))
    so = torch.sin(omega)
    straight = so.abs() < 1e-6  # (anti)parallel vectors: the formula is 0/0, fall back to a line
    w_a = torch.where(straight, 1.0 - t, torch.sin((1.0 - t) * omega) / so.where(~straight, torch.ones_like(so)))
    w_b = torch.where(straight, t, torch.sin(t * omega) / so.where(~straight, torch.ones_like(so)))
    return w_a * a + w_b * b


def interpolation(gen: LoadedGenerator, seed_a: int, seed_b: int, frames: int, label: int | None = None,
                  truncation: float | None = None) -> Tensor:
    """`frames` samples along the slerp path from seed_a's z to seed_b's z (the ends included)."""
    za, zb = gen.noise(1, seed_a, truncation), gen.noise(1, seed_b, truncation)
    t = torch.linspace(0.0, 1.0, frames)
    z = slerp(za.expand(frames, -1), zb.expand(frames, -1), t) if gen.model.noise == "normal" \
        else za + t.view(-1, 1) * (zb - za)  # uniform noise lives in a cube: a straight line stays inside
    return gen(z, None if label is None else torch.full((frames,), label))


def nearest_images(queries: Tensor, pool: Tensor, k: int = 5, batch: int = 1024) -> tuple[Tensor, Tensor]:
    """(distances, indices) of the k pool images closest to each query in pixel space (L2 over all
    pixels, images in [-1, 1]): the memorisation check — a sample nearly equal to a training
    image was copied, not generated."""
    q = queries.flatten(1).float()
    best_d, best_i = [], []
    for start in range(0, len(q), batch):
        d = torch.cdist(q[start:start + batch], pool.flatten(1).float())
        v, i = d.topk(min(k, len(pool)), dim=1, largest=False)
        best_d.append(v)
        best_i.append(i)
    return torch.cat(best_d), torch.cat(best_i)


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
    load_module(G, tensors, generator_prefix(tensors), Path(path).name)
    dev = resolve_device(device)
    return LoadedGenerator(G.to(dev).eval(), card, model, dev, Path(path))
