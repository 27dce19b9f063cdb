"""Pix2Pix discriminator: a PatchGAN (Isola et al. 2017, section 3.2.2).

D sees the condition and an output stacked on channels, (x, y), and answers with a grid of
logits, one per N x N patch: C64 - C128 - C256 - C512 (4x4 convs, stride 2 except the last two,
BN except on the first, LeakyReLU 0.2) and a 1-channel 4x4 conv. With n_layers = 3 each logit sees
a 70 x 70 patch (`receptive_field`); the loss averages over the grid, so D only judges local
texture and L1 takes care of the low frequencies. CycleGAN's D is the same net judging one
picture, y alone, with instance norm in place of batch norm (`norm="instance"`).
"""
from __future__ import annotations

from torch import Tensor, nn
import torch


# instance norm without affine weights and with a conv bias, as the official CycleGAN code builds it
NORMS = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d}


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose {' or '.join(NORMS)}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = ndf
        for n in range(1, n_layers + 1):
            prev, width = width, ndf * min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(prev, width, 4, stride, 1, bias=norm == "instance"),
                       NORMS[norm](width), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.n_layers = n_layers

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (N, 1, h, w) for the pairs (x, y): x the condition, y a real or generated output;
        for the pictures x alone when y is None (CycleGAN)."""
        return self.model(x if y is None else torch.cat([x, y], 1))


def receptive_field(n_layers: int) -> int:
    """Side of the input patch one output logit sees: 70 for n_layers = 3 (34 for 2, 142 for 4)."""
    strides = [2] + [2] * (n_layers - 1) + [1, 1]  # first conv, the widening convs, the last two
    rf = 1
    for s in reversed(strides):
        rf = (rf - 1) * s + 4
    return rf
