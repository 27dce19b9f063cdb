"""Differentiable augmentation for small datasets (Zhao et al. 2020, "DiffAugment").

With a few thousand images D memorises the training set and its gradients stop
teaching G. DiffAugment shows D only T(x) and T(G(z)), for a fresh random T each
time, in D's step and in G's step alike:

    D:  max  E[log D(T(x))] + E[log(1 - D(T(G(z))))]
    G:  min  -E[log D(T(G(z)))]              (the loss pair of train.loss, unchanged)

T is differentiable, so G's gradient flows back through it; and because both
sides are transformed the same way, p_T(data) = p_T(G) when p_data = p_g: G is not
taught to draw augmented images, only D is kept from memorising.

Policies (the paper's, each drawn per image):
    color        brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)
    translation  shift by up to 1/8 of the size in x and y, zero padding
    cutout       a square of half the size, at a random centre, set to zero
"""
from __future__ import annotations

import torch
from torch import Tensor

POLICIES = ("color", "translation", "cutout")


def _uniform(n: int, g: torch.Generator, rows: slice, like: Tensor) -> Tensor:
    """One U(0, 1) draw per image of the global batch, this process's rows, shaped (B, 1, 1, 1)."""
    return torch.rand(n, generator=g)[rows].to(like.device, like.dtype).view(-1, 1, 1, 1)


def color(x: Tensor, n: int, g: torch.Generator, rows: slice) -> Tensor:
    x = x + (_uniform(n, g, rows, x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(n, g, rows, x) * 2) + mean  # a no-op on one channel
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, g, rows, x) + 0.5) + mean


def translation(x: Tensor, n: int, g: torch.Generator, rows: slice, ratio: float = 0.125) -> Tensor:
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n,), generator=g)[rows].to(x.device)
    dx = torch.randint(-sx, sx + 1, (n,), generator=g)[rows].to(x.device)
    padded = torch.nn.functional.pad(x, (sx, sx, sy, sy))
    # output pixel (i, j) reads padded pixel (i + sy - dy, j + sx - dx): the image moved by (dy, dx)
    iy = (torch.arange(h, device=x.device) + sy).view(1, h) - dy.view(b, 1)
    ix = (torch.arange(w, device=x.device) + sx).view(1, w) - dx.view(b, 1)
    out = padded[torch.arange(b, device=x.device).view(b, 1, 1), :, iy.view(b, h, 1), ix.view(b, 1, w)]
    return out.permute(0, 3, 1, 2)  # advanced indexing put channels last: (B, H, W, C)


def cutout(x: Tensor, n: int, g: torch.Generator, rows: slice, ratio: float = 0.5) -> Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # centres in [0, size + (1 - hole % 2)), as in the paper's code
    cy = torch.randint(0, h + (1 - ch % 2), (n,), generator=g)[rows].to(x.device).view(b, 1, 1)
    cx = torch.randint(0, w + (1 - cw % 2), (n,), generator=g)[rows].to(x.device).view(b, 1, 1)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    # the square [c - size/2, c - size/2 + size) clipped to the image
    hole = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


_OPS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...] | list[str], g: torch.Generator, n: int | None = None,
                 rows: slice = slice(None)) -> Tensor:
    """T(x) for the policies in `policy`, applied in the paper's order (color, translation, cutout).

    Random parameters are drawn from `g` for the `n` images of the global batch and this process
    keeps `rows` of them (under DDP each process holds a slice), so a run is reproducible and
    the same on any number of processes."""
    n = len(x) if n is None else n
    for name in POLICIES:
        if name in policy:
            x = _OPS[name](x, n, g, rows)
    return x
