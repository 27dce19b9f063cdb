"""SRGAN's networks (Ledig et al. 2017, figure 4).

Generator (SRResNet): conv 9x9 + PReLU; B residual blocks  x + conv-[BN]-PReLU-conv-[BN](x);
conv + a skip over the whole body; log2(scale) upsampling steps  conv (C -> 4C), PixelShuffle x2,
PReLU; conv 9x9 to RGB. Two departures, both switchable in the recipe and stated on the model
card: batch norm is off by default (EDSR and ESRGAN found it costs PSNR and adds artefacts), and
with `residual: true` the net predicts a correction to the bicubic upscale,
    G(x) = bicubic(x) + net(x),
which trains far faster on a CPU. Pictures are in [0, 1], in and out.

Discriminator: conv-LeakyReLU, then 7 conv-BN-LeakyReLU blocks whose stride alternates 2, 1 while
the width doubles every second block (64 ... 512), a dense 1024 layer and a logit. The paper's
dense layer reads a fixed 6x6 grid; here the features are averaged over space first, so D takes
any crop size.
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


def bicubic(x: Tensor, scale: float) -> Tensor:
    """Bicubic resize by `scale` (antialiased when shrinking: the degradation used for training
    pairs and for the "simulate" measurements, and the baseline every model is compared with)."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False, antialias=scale < 1)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, bn: bool):
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(channels)) if bn else nn.Identity
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), norm(), nn.PReLU(channels),
                                  nn.Conv2d(channels, channels, 3, 1, 1), norm())

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    def __init__(self, scale: int = 4, channels: int = 64, n_blocks: int = 16, img_channels: int = 3,
                 bn: bool = False, residual: bool = True, outer_kernel: int = 9):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SRResNet upscales by 2, 4 or 8 (PixelShuffle x2 steps), not {scale}")
        self.scale, self.residual = scale, residual
        pad = outer_kernel // 2
        self.head = nn.Sequential(nn.Conv2d(img_channels, channels, outer_kernel, 1, pad), nn.PReLU(channels))
        self.body = nn.Sequential(*[ResidualBlock(channels, bn) for _ in range(n_blocks)],
                                  nn.Conv2d(channels, channels, 3, 1, 1),
                                  nn.BatchNorm2d(channels) if bn else nn.Identity())
        up: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            up += [nn.Conv2d(channels, 4 * channels, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(channels)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(channels, img_channels, outer_kernel, 1, pad)

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        out = self.tail(self.upsample(h + self.body(h)))
        return out + bicubic(x, self.scale) if self.residual else out


class SRDiscriminator(nn.Module):
    def __init__(self, img_channels: int = 3, ndf: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(img_channels, ndf, 3, 1, 1), nn.LeakyReLU(0.2)]
        width = ndf
        for i in range(7):  # (64, s2), (128, s1), (128, s2), (256, s1), (256, s2), (512, s1), (512, s2)
            out = ndf * 2 ** ((i + 1) // 2)
            layers += [nn.Conv2d(width, out, 3, 2 if i % 2 == 0 else 1, 1, bias=False), nn.BatchNorm2d(out),
                       nn.LeakyReLU(0.2)]
            width = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 1024),
                                        nn.LeakyReLU(0.2), nn.Linear(1024, 1))

    def forward(self, x: Tensor) -> Tensor:
        """One logit per picture: is it a real high-resolution picture? (inputs in [0, 1])"""
        return self.classifier(self.features(x * 2 - 1))
