"""Anomaly scores from a GAN trained on normal data only.

AnoGAN (Schlegl et al., 2017): for an image x search the latent space,

    z* = argmin_z  A(x, z),   A(x, z) = (1 - lam) * |x - G(z)|_1 + lam * |f(x) - f(G(z))|_1

with f the discriminator's last feature map (lam = 0.1), and score x by A(x, z*): an image the
generator cannot reconstruct is anomalous. All images of a request (and all restarts) are
optimised together as one batch; G and D run in eval mode, so each image's search is its own.

f-AnoGAN's izi_f encoder (Schlegl et al., 2019) replaces the search by one pass: E is trained
with G and D frozen on  |x - G(E(x))|^2 / n_pixels + kappa * |f(x) - f(G(E(x)))|^2 / n_features,
which is also its score.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..nets.encoder import Encoder


@dataclass
class Scored:
    """Per image: the anomaly score, the reconstruction G(z*) and the per-pixel residual |x - G(z*)|
    averaged over channels (B, H, W)."""
    score: Tensor
    reconstruction: Tensor
    residual: Tensor


def _features(D: nn.Module, x: Tensor) -> Tensor:
    return D.features(x).flatten(1)


def anogan_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, lam: float) -> Tensor:
    """A(x, z) per image: (1 - lam) * L1 residual + lam * L1 feature distance (sums, as the paper)."""
    return (1 - lam) * (x - fake).abs().flatten(1).sum(1) + lam * (fx - ffake).abs().sum(1)


def anogan_score(G: nn.Module, D: nn.Module, x: Tensor, *, steps: int = 500, lam: float = 0.1, lr: float = 0.05,
                 restarts: int = 1, nz: int | None = None, seed: int = 0, progress=None) -> Scored:
    """The latent search for a batch x (B, C, H, W) in [-1, 1]; `restarts` random starts per image,
    the best kept. `progress(step, steps)` is called every 10 steps."""
    was = G.training, D.training
    G.eval(), D.eval()
    G.requires_grad_(False), D.requires_grad_(False)
    try:
        nz = nz or G.nz
        b = len(x)
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(b * restarts, nz, generator=g).to(x.device).requires_grad_(True)
        target = x.repeat(restarts, 1, 1, 1)
        with torch.no_grad():
            fx = _features(D, target)
        opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
        for step in range(steps):
            fake = G(z)
            loss = anogan_loss(target, fake, fx, _features(D, fake), lam)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # images are independent: the sum's gradient is each image's own
            opt.step()
            if progress is not None and (step + 1) % 10 == 0:
                progress(step + 1, steps)
        with torch.no_grad():
            fake = G(z)
            final = anogan_loss(target, fake, fx, _features(D, fake), lam).view(restarts, b)
            best = final.argmin(0)
            idx = best * b + torch.arange(b, device=x.device)
            recon = fake[idx]
            return Scored(final.min(0).values, recon, (x - recon).abs().mean(1))
    finally:
        G.train(was[0]), D.train(was[1])
        G.requires_grad_(True), D.requires_grad_(True)


def izif_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, kappa: float) -> Tensor:
    """Per image: mean squared residual + kappa * mean squared feature distance (f-AnoGAN)."""
    return (x - fake).pow(2).flatten(1).mean(1) + kappa * (fx - ffake).pow(2).mean(1)


def train_encoder(G: nn.Module, D: nn.Module, images: Tensor, *, steps: int = 2000, batch_size: int = 64,
                  kappa: float = 1.0, lr: float = 1e-4, width: int = 32, seed: int = 0, progress=None) -> Encoder:
    """izi_f: train E on normal images with G and D frozen."""
    torch.manual_seed(seed)
    was = G.training, D.training
    G.eval(), D.eval()
    G.requires_grad_(False), D.requires_grad_(False)
    E = Encoder(images.shape[-1], images.shape[1], G.nz, width).to(images.device)
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    try:
        for step in range(steps):
            x = images[torch.randint(len(images), (batch_size,), generator=g)]
            fake = G(E(x))
            with torch.no_grad():
                fx = _features(D, x)
            loss = izif_loss(x, fake, fx, _features(D, fake), kappa).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None and (step + 1) % 50 == 0:
                progress(step + 1, steps)
    finally:
        G.train(was[0]), D.train(was[1])
        G.requires_grad_(True), D.requires_grad_(True)
    return E.eval()


@torch.no_grad()
def encoder_score(G: nn.Module, D: nn.Module, E: nn.Module, x: Tensor, kappa: float = 1.0) -> Scored:
    G.eval(), D.eval(), E.eval()
    recon = G(E(x))
    score = izif_loss(x, recon, _features(D, x), _features(D, recon), kappa)
    return Scored(score, recon, (x - recon).abs().mean(1))
