"""The image encoder E: x -> z of f-AnoGAN (Schlegl et al., 2019), DCGAN's discriminator body
with a linear head onto the latent space instead of one logit."""
from __future__ import annotations

from torch import Tensor, nn

from .dcgan import dcgan_init, spatial_plan


class Encoder(nn.Module):
    """x (B, C, S, S) in [-1, 1] -> z (B, nz). Strided 4x4 convolutions halve the size down to
    the base (7 or 4), then one linear layer; batch norm is not used, so an image's code does not
    depend on the rest of its batch."""

    def __init__(self, img_size: int = 28, channels: int = 1, nz: int = 64, width: int = 64):
        super().__init__()
        base, n = spatial_plan(img_size)
        widths = [width * 2 ** i for i in range(n)]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.GroupNorm(1, c_out), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1] * base * base, nz)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))
