"""Anomaly scores from a GAN trained on normal data only.

AnoGAN (Schlegl et al., 2017): for an image x search the latent space,

    z* = argmin_z  A(x, z),   A(x, z) = (1 - lam) * |x - G(z)|_1 + lam * |f(x) - f(G(z))|_1

with f the discriminator's last feature map (lam = 0.1), and score x by A(x, z*): an image the
generator cannot reconstruct is anomalous. All images of a request (and all restarts) are
optimised together as one batch; G and D run in eval mode, so each image's search is its own.

f-AnoGAN's izi_f encoder (Schlegl et al., 2019) replaces the search by one pass, scoring

    |x - G(E(x))|^2 / n_pixels + kappa * |f(x) - f(G(E(x)))|^2 / n_features

(the loss E was trained on, fitting.train_encoder).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

METHODS = ("encoder", "anogan")


@dataclass
class Scored:
    """Per image: the anomaly score, the reconstruction G(z*) and the per-pixel residual |x - G(z*)|
    averaged over channels (B, H, W)."""
    score: Tensor
    reconstruction: Tensor
    residual: Tensor


def features(D: nn.Module, x: Tensor) -> Tensor:
    """f(x): the discriminator's last feature map, flattened per image."""
    return D.features(x).flatten(1)


def anogan_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, lam: float) -> Tensor:
    """A(x, z) per image: (1 - lam) * |x - G(z)|_1 + lam * |f(x) - f(G(z))|_1 (sums, as the paper)."""
    return (1 - lam) * (x - fake).abs().flatten(1).sum(1) + lam * (fx - ffake).abs().sum(1)


def izif_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, kappa: float) -> Tensor:
    """Per image: |x - G(E(x))|^2 / n_pixels + kappa * |f(x) - f(G(E(x)))|^2 / n_features (f-AnoGAN)."""
    return (x - fake).pow(2).flatten(1).mean(1) + kappa * (fx - ffake).pow(2).mean(1)


@contextmanager
def frozen(*nets: nn.Module):
    """Eval mode and no weight gradients for `nets`, restored to exactly what they were afterwards."""
    saved = [(m.training, [p.requires_grad for p in m.parameters()]) for m in nets]
    for m in nets:
        m.eval().requires_grad_(False)
    try:
        yield
    finally:
        for m, (training, grads) in zip(nets, saved):
            m.train(training)
            for p, g in zip(m.parameters(), grads):
                p.requires_grad_(g)


def anogan_score(G: nn.Module, D: nn.Module, x: Tensor, *, steps: int = 500, lam: float = 0.1, lr: float = 0.05,
                 restarts: int = 1, nz: int | None = None, seed: int = 0, progress=None) -> Scored:
    """The latent search z* = argmin_z A(x, z) by Adam for a batch x (B, C, H, W) in [-1, 1];
    `restarts` random starts per image, the best kept. `progress(step, steps)` is called after every step
    (a step of a large batch takes a good part of a second on a CPU: every tenth came seconds late)."""
    with frozen(G, D):
        nz = nz or G.nz
        b = len(x)
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(b * restarts, nz, generator=g).to(x.device).requires_grad_(True)
        target = x.repeat(restarts, 1, 1, 1)
        with torch.no_grad():
            fx = features(D, target)
        opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
        for step in range(steps):
            fake = G(z)
            loss = anogan_loss(target, fake, fx, features(D, fake), lam)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # images are independent: the sum's gradient is each image's own
            opt.step()
            if progress is not None:
                progress(step + 1, steps)
        with torch.no_grad():
            fake = G(z)
            final = anogan_loss(target, fake, fx, features(D, fake), lam).view(restarts, b)
            best = final.argmin(0)
            idx = best * b + torch.arange(b, device=x.device)
            recon = fake[idx]
            return Scored(final.min(0).values, recon, (x - recon).abs().mean(1))


@torch.no_grad()
def encoder_score(G: nn.Module, D: nn.Module, E: nn.Module, x: Tensor, kappa: float = 1.0) -> Scored:
    """f-AnoGAN's one pass: izif_loss(x, G(E(x))) per image."""
    G.eval(), D.eval(), E.eval()
    recon = G(E(x))
    score = izif_loss(x, recon, features(D, x), features(D, recon), kappa)
    return Scored(score, recon, (x - recon).abs().mean(1))


@dataclass
class Detector:
    """A GAN trained on normal images, its encoder, and the thresholds chosen on validation."""
    G: nn.Module
    D: nn.Module
    E: nn.Module
    card: dict

    @property
    def img_size(self) -> int:
        return self.card["model"]["img_size"]

    @property
    def channels(self) -> int:
        return self.card["model"]["channels"]

    def threshold(self, method: str) -> float | None:
        return (self.card.get("thresholds") or {}).get(method)

    def score(self, x: Tensor, method: str = "encoder", progress=None, **search) -> Scored:
        """x (B, C, H, W) in [-1, 1]; method 'encoder' (one pass) or 'anogan' (latent search, with the
        recipe's settings unless given)."""
        if method == "encoder":
            return encoder_score(self.G, self.D, self.E, x, self.card["encoder"]["kappa"])
        if method == "anogan":
            settings = {k: self.card["search"][k] for k in ("steps", "lam", "lr", "restarts")} | search
            return anogan_score(self.G, self.D, x, progress=progress, **settings)
        raise ValueError(f"unknown method {method!r}; choose encoder or anogan")
