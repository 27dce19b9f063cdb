"""Fully connected G and D for low-dimensional toy data (1D mixtures, 2D rings and grids)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def mlp(in_dim: int, out_dim: int, depth: int, width: int, activation: str) -> nn.Sequential:
    """in -> [Linear(width) -> act] x depth -> Linear(out). depth counts hidden layers."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), ACTIVATIONS[activation]()]
        d = width
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """x = G(z): an MLP from the noise space R^nz to the data space R^out_dim."""

    def __init__(self, nz: int = 2, out_dim: int = 2, depth: int = 2, width: int = 128,
                 activation: str = "relu"):
        super().__init__()
        self.nz = nz
        self.net = mlp(nz, out_dim, depth, width, activation)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x): an MLP from the data space to one logit (or critic score)."""

    def __init__(self, in_dim: int = 2, depth: int = 2, width: int = 128, activation: str = "relu"):
        super().__init__()
        self.net = mlp(in_dim, 1, depth, width, activation)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x).squeeze(-1)

