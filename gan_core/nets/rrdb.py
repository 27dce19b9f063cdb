"""ESRGAN's generator, RRDBNet (Wang et al. 2018), with the parameter names of the public
ESRGAN / Real-ESRGAN weights, so `RealESRGAN_x4plus.pth` (23 blocks, 64 features, growth 32)
loads key for key (`from_public_state_dict` also reads the older ESRGAN names).

Residual dense block: x_k = lrelu(conv_k([x, x_1, ..., x_{k-1}])) for k = 1..4, then
x + 0.2 * conv_5([x, x_1, ..., x_4]).  RRDB: x + 0.2 * RDB3(RDB2(RDB1(x))).
Net: feat = conv_first(x); feat = feat + conv_body(RRDBs(feat)); two nearest x2 upsamplings,
each followed by a conv and lrelu; conv_hr, lrelu, conv_last. Pictures in [0, 1].
For scale 2 (and 1) the input is pixel-unshuffled first, as in Real-ESRGAN.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return x + 0.2 * self.conv5(torch.cat(feats, 1))


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    def __init__(self, scale: int = 4, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_block: int = 23, num_grow_ch: int = 32):
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet upscales by 1, 2 or 4, not {scale}")
        self.scale = scale
        unshuffle = {4: 1, 2: 4, 1: 16}[scale]
        self.conv_first = nn.Conv2d(num_in_ch * unshuffle, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if self.scale < 4:  # unshuffling needs sides divisible by 4 // scale: repeat edge pixels, crop after
            m = 4 // self.scale
            x = F.pixel_unshuffle(F.pad(x, (0, -w % m, 0, -h % m), mode="replicate"), m)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
        return out[..., : h * self.scale, : w * self.scale]


_OLD_NAMES = [(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.", r"body.\1.rdb\2."), (r"^trunk_conv\.", "conv_body."),
              (r"^upconv1\.", "conv_up1."), (r"^upconv2\.", "conv_up2."), (r"^HRconv\.", "conv_hr.")]


def from_public_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Real-ESRGAN / BasicSR names pass through; the original ESRGAN release's are renamed."""
    out = {}
    for key, value in state.items():
        for pattern, repl in _OLD_NAMES:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def infer_rrdb_shape(state: dict[str, Tensor]) -> dict[str, int]:
    """RRDBNet arguments read off a public state dict: scale, channels, features, blocks, growth."""
    try:
        first, last = state["conv_first.weight"], state["conv_last.weight"]
        num_block = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
        grow = state["body.0.rdb1.conv1.weight"].shape[0]
    except (KeyError, ValueError, IndexError) as e:
        raise ValueError(f"not RRDBNet weights (no {e})") from None
    out_ch = last.shape[0]
    scale = {1: 4, 4: 2, 16: 1}.get(first.shape[1] // out_ch)
    if scale is None:
        raise ValueError(f"conv_first takes {first.shape[1]} channels: not a 1-, 2- or 4-times RRDBNet")
    return {"scale": scale, "num_in_ch": out_ch, "num_out_ch": out_ch, "num_feat": first.shape[0],
            "num_block": num_block, "num_grow_ch": grow}
