"""Fully connected G and D for low-dimensional toy data (1D mixtures, 2D rings and grids)."""
from __future__ import annotations

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
    """D(x): an MLP from the data space to one logit (or critic score).

    With pack m > 1 it is PacGAN's discriminator (Lin et al. 2018): D(x_1, ..., x_m) judges m
    samples at once, concatenated, all real or all fake. A generator that drops modes makes packs
    whose lack of variety D can see, so packing penalises mode collapse. A batch of N rows is
    read as N/m packs of consecutive rows and gets N/m scores."""

    def __init__(self, in_dim: int = 2, depth: int = 2, width: int = 128, activation: str = "relu",
                 pack: int = 1):
        super().__init__()
        self.in_dim, self.pack = in_dim, pack
        self.net = mlp(in_dim * pack, 1, depth, width, activation)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.pack > 1:
            if len(x) % self.pack:
                raise ValueError(f"a batch of {len(x)} samples cannot be cut into packs of {self.pack}")
            x = x.reshape(len(x) // self.pack, self.in_dim * self.pack)
        return self.net(x).squeeze(-1)

