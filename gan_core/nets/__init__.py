"""Networks, one file per paper. Each model section in gan_core/config.py builds its (G, D) from these
(`config.build_gan`); `sample_noise` draws z."""
from __future__ import annotations

import torch
from torch import Tensor


def sample_noise(n: int, nz: int, distribution: str = "normal", device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> Tensor:
    """z ~ N(0, I) or z ~ U[-1, 1]^nz."""
    if distribution == "normal":
        return torch.randn(n, nz, device=device, generator=generator)
    if distribution == "uniform":
        return torch.rand(n, nz, device=device, generator=generator) * 2 - 1
    raise ValueError(f"unknown noise distribution {distribution!r}; choose normal or uniform")
