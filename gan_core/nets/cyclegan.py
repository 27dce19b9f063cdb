"""CycleGAN's networks (Zhu et al. 2017, appendix 7.2): two ResNet generators and two PatchGANs.

Generator (Johnson et al. 2016's, as the paper uses):  c7s1-ngf, d2ngf, d4ngf, R4ngf x n_blocks,
u2ngf, ungf, c7s1-out, tanh. c7s1-k: 7x7 conv, stride 1, reflection padding 3, instance norm, ReLU;
dk: 3x3 conv, stride 2, instance norm, ReLU; Rk: a residual block of two 3x3 convs with reflection
padding (x + conv(relu(conv(x)))); uk: 3x3 transposed conv, stride 2. 6 blocks for 128x128
pictures, 9 for 256x256; a narrow one (ngf 16-32, 4-6 blocks) is plenty for 32x32 digits.

The layer order and names are the official code's (junyanz/pytorch-CycleGAN-and-pix2pix,
`ResnetGenerator`: one `model` Sequential, `conv_block` inside each block), so its
`latest_net_G_A.pth` loads as it is (`official_shape` reads the shape off the keys).

The discriminators are the project's PatchGAN (patchgan.py) judging one picture, with instance
norm as CycleGAN's code has it. `CycleGenerators` holds G_XY (`ab`) and G_YX (`ba`) as one module,
`CycleDiscriminators` D_X (`a`) and D_Y (`b`): the training loop, EMA, checkpoints and DDP see one
G and one D as for every other model.
"""
from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from .patchgan import PatchDiscriminator


class ResnetBlock(nn.Module):
    """x + [pad, conv3, IN, ReLU, (dropout), pad, conv3, IN](x)."""

    def __init__(self, dim: int, dropout: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Picture -> picture of the same size (a multiple of 4), in [-1, 1] (see the module docstring)."""

    n_down = 2  # the official code's, fixed: model.N indices depend on it

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9,
                 dropout: bool = False):
        super().__init__()
        # instance norm without affine parameters, so every conv keeps its bias (use_bias in the official code)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7),
                                   nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(self.n_down):
            w = ngf * 2 ** i
            layers += [nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * w), nn.ReLU(True)]
        width = ngf * 2 ** self.n_down
        layers += [ResnetBlock(width, dropout) for _ in range(n_blocks)]
        for i in range(self.n_down):
            w = width // 2 ** i
            layers += [nn.ConvTranspose2d(w, w // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(w // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class CycleGenerators(nn.Module):
    """G_XY = ab (A -> B) and G_YX = ba (B -> A); `ba` is None for a one-way import."""

    def __init__(self, ab: ResnetGenerator, ba: ResnetGenerator | None):
        super().__init__()
        self.ab, self.ba = ab, ba

    def forward(self, a: Tensor, b: Tensor, identity: bool = True) -> dict[str, Tensor]:
        """Everything one CycleGAN iteration needs, in one call (so DDP sees one forward):
        fake_b = G_XY(a), rec_a = G_YX(fake_b), fake_a = G_YX(b), rec_b = G_XY(fake_a),
        and with `identity` idt_b = G_XY(b), idt_a = G_YX(a)."""
        fake_b, fake_a = self.ab(a), self.ba(b)
        out = {"fake_b": fake_b, "rec_a": self.ba(fake_b), "fake_a": fake_a, "rec_b": self.ab(fake_a)}
        if identity:
            out["idt_b"], out["idt_a"] = self.ab(b), self.ba(a)
        return out

    def direction(self, name: str) -> nn.Module:
        """'a2b' -> G_XY, 'b2a' -> G_YX."""
        net = {"a2b": self.ab, "b2a": self.ba}.get(name)
        if net is None:
            raise ValueError(f"direction {name!r} is not available in this model" if name in ("a2b", "b2a")
                             else f"unknown direction {name!r}; use a2b or b2a")
        return net


class CycleDiscriminators(nn.Module):
    """D_X = a (judges pictures of A) and D_Y = b (pictures of B): PatchGAN logits per patch."""

    def __init__(self, a: PatchDiscriminator, b: PatchDiscriminator):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, real_a: Tensor, fake_a: Tensor, real_b: Tensor, fake_b: Tensor) -> tuple[Tensor, ...]:
        """(D_X(a), D_X(fake a), D_Y(b), D_Y(fake b)): real and fake go through each D in one pass
        (instance norm keeps samples apart, so fusing them is the same maths)."""
        ra, fa = self.a(torch.cat([real_a, fake_a])).chunk(2)
        rb, fb = self.b(torch.cat([real_b, fake_b])).chunk(2)
        return ra, fa, rb, fb


_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.1\.weight$")


def official_shape(state: dict[str, Tensor]) -> dict[str, int | bool]:
    """in/out channels, ngf, n_blocks and dropout read off an official ResnetGenerator state dict
    (keys model.1.weight ... model.{17 + n_blocks}.weight); ValueError if it is not one."""
    if "model.1.weight" not in state or state["model.1.weight"].ndim != 4 or state["model.1.weight"].shape[-1] != 7:
        raise ValueError("no 7x7 first convolution model.1.weight")
    blocks = sorted(int(m.group(1)) for k in state if (m := _BLOCK.match(k)))
    if not blocks or blocks != list(range(10, 10 + len(blocks))):
        raise ValueError("no residual blocks model.10.conv_block... in a row")
    n = len(blocks)
    last = f"model.{10 + n + 7}.weight"  # after the blocks: 2 x (convT, IN, ReLU), pad, conv
    if last not in state:
        raise ValueError(f"no last convolution {last}")
    dropout = "model.10.conv_block.6.weight" in state  # the second conv moves one place after a Dropout
    return {"in_channels": int(state["model.1.weight"].shape[1]), "ngf": int(state["model.1.weight"].shape[0]),
            "out_channels": int(state[last].shape[0]), "n_blocks": n, "dropout": dropout}


def from_official(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """An official state dict with what this ResnetGenerator does not hold left out: the running
    statistics PyTorch < 0.4 saved for instance norm layers (the official code deletes them too)."""
    return {k: v for k, v in state.items()
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
