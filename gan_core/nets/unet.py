"""Pix2Pix generator: a U-Net (Isola et al. 2017, section 3.2.1 and appendix 6.1.1).

    encoder  C64 - C128 - C256 - C512 - C512 - ... - C512        (Conv 4x4 /2, BN, LeakyReLU 0.2;
                                                                  no BN on the first and the innermost)
    decoder  CD512 - CD512 - CD512 - C512 - C256 - C128 - C64    (ReLU, TransConv 4x4 x2, BN, Dropout 0.5
                                                                  on the first three; tanh at the end)
    skips    decoder layer i sees [its input ; encoder layer n - i]

`depth` = number of stride-2 steps, so an input side must be a multiple of 2**depth:
depth 8 for 256 px (the paper's unet_256), 7 for 128, 6 for 64, 5 for 32. The layers, their order and
their bias flags are those of the official code (junyanz/pytorch-CycleGAN-and-pix2pix), so its
`latest_net_G.pth` maps onto this module key by key (`official_key_map`).
"""
from __future__ import annotations

from torch import Tensor, nn
import torch


def _widths(depth: int, ngf: int) -> list[int]:
    """Channels after each encoder step: ngf, 2ngf, 4ngf, 8ngf, 8ngf, ..."""
    return [ngf * min(2 ** i, 8) for i in range(depth)]


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int = 3, out_channels: int = 3, depth: int = 8, ngf: int = 64,
                 dropout: bool = True):
        super().__init__()
        if depth < 5:
            raise ValueError(f"U-Net depth must be at least 5 (the encoder widens for 4 steps), got {depth}")
        w = _widths(depth, ngf)
        self.depth = depth
        self.down = nn.ModuleList()
        for i in range(depth):
            cin = in_channels if i == 0 else w[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(cin, w[i], 4, 2, 1, bias=False))
            if 0 < i < depth - 1:
                layers.append(nn.BatchNorm2d(w[i]))
            self.down.append(nn.Sequential(*layers))
        # up[j] undoes down[depth-1-j]; all but the innermost take [previous ; skip] (twice the channels)
        self.up = nn.ModuleList()
        for j in range(depth):
            i = depth - 1 - j
            cin = w[i] if j == 0 else 2 * w[i]
            if i == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [nn.ReLU(), nn.ConvTranspose2d(cin, w[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(w[i - 1])]
                # the paper's CD512 blocks: the inner decoder layers below the 8ngf plateau's end
                if dropout and 0 < j and i >= 4:
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        m = 2 ** self.depth
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"U-Net of depth {self.depth}: height and width must be multiples of {m}, "
                             f"got {tuple(x.shape[-2:])}")
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.up[0](skips.pop())
        for layer in self.up[1:]:
            x = layer(torch.cat([skips.pop(), x], 1))
        return x


def official_key_map(depth: int, dropout: bool = True) -> dict[str, str]:
    """Our parameter/buffer name prefix -> the official UnetGenerator's, e.g.
    'down.0.0' -> 'model.model.0' and 'up.7.1' -> 'model.model.3'.

    The official net nests one UnetSkipConnectionBlock per level: level L's Sequential is
    [down..., submodule, up...], so its children are numbered after the submodule's slot."""
    out: dict[str, str] = {}
    for level in range(depth):
        prefix = "model." + "model.1." * level + "model."
        outermost, innermost = level == 0, level == depth - 1
        if outermost:      # [downconv, submodule, uprelu, upconv, tanh]
            out[f"down.{level}.0"] = prefix + "0"
            out[f"up.{depth - 1}.1"] = prefix + "3"
        elif innermost:    # [downrelu, downconv, uprelu, upconv, upnorm]
            out[f"down.{level}.1"] = prefix + "1"
            out["up.0.1"], out["up.0.2"] = prefix + "3", prefix + "4"
        else:              # [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm(, dropout)]
            out[f"down.{level}.1"], out[f"down.{level}.2"] = prefix + "1", prefix + "2"
            j = depth - 1 - level
            out[f"up.{j}.1"], out[f"up.{j}.2"] = prefix + "5", prefix + "6"
    return out
