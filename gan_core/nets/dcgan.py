"""DCGAN (Radford et al. 2016), optionally class-conditional.

The DCGAN rules: no pooling (strided convolutions in D, fractionally strided
ones in G), batch norm in both nets (not on G's output or D's input), ReLU in G
with a tanh output, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02).

Sizes: img_size = base * 2^n with base 7 (28 px) or 4 (16/32/64/128 px).
G:  z -> base x base x (ngf * 2^(n-1)) -> ... (x2 each step, channels halved) -> img_size^2 x channels
D:  the mirror image, ending in a base x base convolution to one logit.

Conditional variant (Mirza & Osindero 2014, with Miyato & Koyama 2018's projection):
G sees [z, embed(y)]; D outputs  psi(h) + <embed(y), sum_spatial(h)>  for its last
feature map h, so the label steers both players.

Categorical code (Chen et al. 2016, InfoGAN), for unconditional models: a continuous z
must map onto digits that lie on separate manifolds, so G also draws between them. With
n_codes = K, G sees [z, onehot(c)] for a code c ~ Cat(K) that no label gives, and D has a
second head Q(c | x) on its features; both G and Q minimise  lambda * CE(Q(G(z, c)), c),
a lower bound on -I(c; G(z, c)) up to a constant, so G makes the code visible in its
pictures, and the K codes become K clusters of the data (digit classes, on MNIST).
The code is read from the noise itself, c = argmax(z_1..z_K): uniform over K codes, fixed
by the seed, and every sampler that draws z draws c with it.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

D_NORMS = ("batch", "layer", "spectral", "none")


def spatial_plan(img_size: int) -> tuple[int, int]:
    """(base, n_doublings) with base * 2^n == img_size."""
    base = 7 if img_size % 7 == 0 else 4
    n = round(math.log2(img_size / base)) if img_size >= 2 * base else 0
    if n < 1 or base * 2 ** n != img_size:
        raise ValueError(f"img_size must be 7*2^n or 4*2^n (e.g. 28, 32, 64), got {img_size}")
    return base, n


def dcgan_init(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0 (DCGAN section 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, nz: int = 100, img_size: int = 64, channels: int = 3, ngf: int = 64,
                 n_classes: int = 0, embed_dim: int = 32, n_codes: int = 0):
        super().__init__()
        if n_classes and n_codes:
            raise ValueError("a generator takes class labels (n_classes) or a categorical code (n_codes), not both")
        if n_codes > nz:
            raise ValueError(f"the code is read from the first n_codes entries of z: n_codes ({n_codes}) > nz ({nz})")
        self.nz, self.img_size, self.channels, self.n_classes = nz, img_size, channels, n_classes
        self.n_codes = n_codes
        base, n = spatial_plan(img_size)
        widths = [ngf * 2 ** (n - 1 - i) for i in range(n)]
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        z_in = nz + (embed_dim if n_classes else n_codes)  # a code enters one-hot, as in InfoGAN

        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_in, widths[0], base, 1, 0, bias=False),  # 1x1 -> base x base
            nn.BatchNorm2d(widths[0]), nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def code(self, z: Tensor) -> Tensor:
        """The categorical code c = argmax(z_1..z_K) of each noise vector (InfoGAN models)."""
        return z[:, :self.n_codes].argmax(dim=1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.n_codes:
            z = torch.cat([z, nn.functional.one_hot(self.code(z), self.n_codes).to(z.dtype)], dim=1)
        elif self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y")
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, img_size: int = 64, channels: int = 3, ndf: int = 64, n_classes: int = 0,
                 norm: str = "batch", n_codes: int = 0):
        super().__init__()
        if norm not in D_NORMS:
            raise ValueError(f"unknown discriminator norm {norm!r}; choose one of: {', '.join(D_NORMS)}")
        self.img_size, self.channels, self.n_classes = img_size, channels, n_classes
        base, n = spatial_plan(img_size)
        widths = [ndf * 2 ** i for i in range(n)]
        sn = spectral_norm if norm == "spectral" else (lambda m: m)

        layers: list[nn.Module] = [sn(nn.Conv2d(channels, widths[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers.append(sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm not in ("batch", "layer"))))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, c_out))  # one group: normalise over C, H, W per sample
            layers.append(nn.LeakyReLU(0.2, True))
        self.features = nn.Sequential(*layers)
        self.head = sn(nn.Conv2d(widths[-1], 1, base, 1, 0))  # base x base -> 1 logit
        self.embed = sn(nn.Embedding(n_classes, widths[-1])) if n_classes else None
        # InfoGAN's Q(c | x): its own head on D's features (no spectral norm: it is a classifier)
        self.q_head = nn.Conv2d(widths[-1], n_codes, base, 1, 0) if n_codes else None
        dcgan_init(self)
        if self.embed is not None:  # a unit-scale class embedding would swamp the logit at the start
            weight = self.embed.parametrizations.weight.original if norm == "spectral" else self.embed.weight
            nn.init.normal_(weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor | None = None, with_code: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """D's logit per image; with_code: also Q's logits over the K codes (InfoGAN models)."""
        h = self.features(x)
        out = self.head(h).flatten()
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass labels y")
            out = out + (self.embed(y) * h.sum(dim=(2, 3))).sum(dim=1)
        if with_code:
            if self.q_head is None:
                raise ValueError("this discriminator has no code head (model.n_codes is 0)")
            return out, self.q_head(h).flatten(1)
        return out
