"""The 2D toy lab: up to a few MLP GANs trained side by side, fast enough to watch live.

Each configuration is an ordinary recipe (model.arch 'mlp', data.name 'toy') and trains
exactly as `gan_core.train.Trainer` would train it alone: same initial weights (torch's
default init under `torch.manual_seed(seed)`), same minibatches and noise (drawn from the
generator the Trainer seeds with (seed, step)), same losses (the named pairs of
gan_core.losses), same optimizers. What differs is how the arithmetic is done:

- the weights of all configurations with one network shape are stacked, so every layer of
  every model is one batched matmul (torch.baddbmm) instead of one call per model;
- forward and backward passes through the MLPs are written out (h = aW + b, a = act(h);
  dW = a^T dh, da = dh W^T), without autograd's per-operation bookkeeping, which on a CPU
  costs more than the arithmetic of a 128-wide layer;
- Adam, RMSProp and SGD run on one flat parameter buffer per network.

Only the loss derivative at D's output uses autograd (so the loss family has one source),
and the WGAN-GP penalty, whose gradient-of-a-gradient is left to autograd on the same
stacked weights. tests/lab/test_toy2d.py checks the result against the Trainer.
"""
from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from ..config import Config, build_gan
from ..data.toy import ToyDistribution
from ..losses import LOSSES, get_loss
from ..nets import sample_noise
from ..recipes import LOSS_PRESETS, Overrides, load_recipe, parse_overrides

# ---------------------------------------------------------------- the default recipe

# The toy lab's default 2D model and recipe, and what each loss changes from it (the
# settings its paper used: RMSProp and clipping for WGAN, k = 5 critic steps for both WGANs,
# and no instance noise, which a Wasserstein critic does not need).
# Three hidden layers each, big batches, a high learning rate decayed linearly to 0 over 10,000
# steps, and instance noise (sigma 0.3, annealed linearly to 0 over the same steps): the noise
# keeps D from seeing disjoint supports early on, so fewer modes are dropped, and the decay lets G
# settle precisely at the end. On ring8 and grid25 this beats PacGAN's mode coverage and precision
# (docs/benchmarks.md); without the noise and over 5,000 steps minimax dropped modes in 3 of 10
# grid25 seeds, and the classic 2x128, lr 2e-4 recipe stays near 60% / 7% high quality.
TOY_DEFAULTS: dict[str, object] = {
    "model.arch": "mlp", "data.name": "toy", "model.nz": 2, "model.g_depth": 3, "model.g_width": 128,
    "model.d_depth": 3, "model.d_width": 128, "model.activation": "relu", "train.batch_size": 512,
    "train.lr_g": 2e-3, "train.lr_d": 2e-3, "train.betas": (0.5, 0.999), "train.lr_decay": "linear",
    "train.steps": 10000, "train.instance_noise.sigma": 0.3, "train.instance_noise.anneal": "linear"}


def loss_defaults(loss: str) -> dict[str, object]:
    """The lab's recipe for `loss`: TOY_DEFAULTS, then the loss's paper settings (LOSS_PRESETS), and
    no instance noise for a Wasserstein critic, which does not need it."""
    if loss not in LOSS_PRESETS:
        raise ValueError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSS_PRESETS)}")
    return {**TOY_DEFAULTS, "train.loss": loss, **LOSS_PRESETS[loss],
            **({"train.instance_noise.sigma": 0.0} if LOSSES[loss].critic else {})}


def toy_recipe(dataset: str = "ring8", loss: str = "nonsaturating", seed: int = 0,
               overrides: Overrides | list[str] | tuple[str, ...] = ()) -> Config:
    """The default recipe for `loss` on a toy dataset, with `overrides` ({"train.k_d": 2}, or
    the CLI's "train.k_d=2" strings) last."""
    extra = parse_overrides(overrides) if isinstance(overrides, (list, tuple)) else overrides
    return load_recipe(None, {**loss_defaults(loss), "data.toy": dataset, "train.seed": seed,
                              "name": f"{dataset}-{loss}", **extra})


# ---------------------------------------------------------------- activations and derivatives


def _act(name: str, h: Tensor) -> Tensor:
    if name == "relu":
        return torch.relu(h)
    if name == "leaky_relu":
        return F.leaky_relu(h, 0.2)
    if name == "tanh":
        return torch.tanh(h)
    if name == "elu":
        return F.elu(h)
    if name == "gelu":
        return F.gelu(h)
    if name == "silu":
        return F.silu(h)
    raise ValueError(f"unknown activation {name!r}")


def _act_backward(name: str, grad: Tensor, h: Tensor, a: Tensor) -> Tensor:
    """grad * act'(h): one fused kernel for the piecewise-linear activations, else via _act_grad."""
    if name == "relu":
        return torch.ops.aten.threshold_backward(grad, a, 0)
    if name == "leaky_relu":
        return torch.ops.aten.leaky_relu_backward(grad, h, 0.2, False)
    return grad * _act_grad(name, h, a)


def _act_grad(name: str, h: Tensor, a: Tensor) -> Tensor:
    """act'(h), reusing a = act(h) where that is cheaper."""
    if name == "tanh":
        return 1 - a * a
    if name == "elu":
        return torch.where(h > 0, torch.ones_like(h), a + 1)
    if name == "gelu":  # x Phi(x): Phi(x) + x phi(x)
        return 0.5 * (1 + torch.erf(h / math.sqrt(2))) + h * torch.exp(-0.5 * h * h) / math.sqrt(2 * math.pi)
    if name == "silu":  # x s(x): s(x) (1 + x (1 - s(x)))
        s = torch.sigmoid(h)
        return s * (1 + h * (1 - s))
    raise ValueError(f"unknown activation {name!r}")


# ---------------------------------------------------------------- a stack of identical MLPs


class StackedMLP:
    """M MLPs of one shape, weights stacked: layer l is W_l (M, in, out) and b_l (M, 1, out),
    all views into one flat (M, P) buffer (`params`) that the optimizer updates in place."""

    def __init__(self, dims: list[int], activation: str, modules: list[torch.nn.Module]):
        self.dims, self.activation = dims, activation
        self.shapes = [(i, o) for i, o in zip(dims, dims[1:])]
        self.size = sum(i * o + o for i, o in self.shapes)
        self.params = torch.zeros(len(modules), self.size)
        self.grad = torch.zeros_like(self.params)
        self.W, self.b = self._views(self.params)
        self.dW, self.db = self._views(self.grad)
        for m, module in enumerate(modules):
            linears = [layer for layer in module.modules() if isinstance(layer, torch.nn.Linear)]
            for l, lin in enumerate(linears):
                self.W[l][m].copy_(lin.weight.detach().T)
                self.b[l][m, 0].copy_(lin.bias.detach())

    def copy(self) -> "StackedMLP":
        """The same networks with their weights copied (no gradient buffer: a copy is only read)."""
        twin = copy.copy(self)
        twin.params = self.params.clone()
        twin.W, twin.b = twin._views(twin.params)
        twin.grad = twin.dW = twin.db = None
        return twin

    def _views(self, flat: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        Ws, bs, offset = [], [], 0
        M = flat.shape[0]
        for i, o in self.shapes:
            Ws.append(flat[:, offset:offset + i * o].view(M, i, o))
            offset += i * o
            bs.append(flat[:, offset:offset + o].view(M, 1, o))
            offset += o
        return Ws, bs

    def forward(self, x: Tensor, keep: bool = False, params: Tensor | None = None) -> tuple[Tensor, list]:
        """x (M, B, in) -> (M, B, out); with keep, the (input, pre-activation, activation) per layer.
        `params` runs other weights of the same layout (the generator's moving average)."""
        cache = []
        a = x
        Ws, bs = (self.W, self.b) if params is None else self._views(params)
        last = len(Ws) - 1
        for l, (W, b) in enumerate(zip(Ws, bs)):
            h = torch.baddbmm(b, a, W)
            if l < last:
                out = _act(self.activation, h)
                if keep:
                    cache.append((a, h, out))
                a = out
            else:
                if keep:
                    cache.append((a, None, None))
                a = h
        return a, cache

    def backward(self, cache: list, grad_out: Tensor, weights: bool = True, inputs: bool = False) -> Tensor | None:
        """Back-propagate dL/d(out): accumulate dW, db into `grad` (weights=True) and/or return dL/dx.

        dh_L = grad_out; dW_l = a_{l-1}^T dh_l; db_l = sum_batch dh_l; da_{l-1} = dh_l W_l^T;
        dh_{l-1} = da_{l-1} * act'(h_{l-1}).
        """
        dh = grad_out
        for l in range(len(self.W) - 1, -1, -1):
            a_in = cache[l][0]
            if weights:
                self.dW[l].baddbmm_(a_in.transpose(1, 2), dh)
                self.db[l].add_(dh.sum(1, keepdim=True))
            if l == 0 and not inputs:
                return None
            da = torch.bmm(dh, self.W[l].transpose(1, 2))
            if l == 0:
                return da
            _, h_prev, a_prev = cache[l - 1]
            dh = _act_backward(self.activation, da, h_prev, a_prev)
        return None

    def autograd_forward(self, x: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
        """The same forward for the models `rows` only, on a leaf copy of their weights that autograd
        can differentiate twice; x is (len(rows), B, in)."""
        flat = self.params[rows].detach().clone().requires_grad_(True)
        Ws, bs = self._views(flat)
        a = x
        for l, (W, b) in enumerate(zip(Ws, bs)):
            a = torch.baddbmm(b, a, W)
            if l < len(Ws) - 1:
                a = _act(self.activation, a)
        return a, flat

    def gradient_penalty(self, x: Tensor, rows: Tensor, weights: Tensor) -> Tensor:
        """Add the gradient of sum_m lambda_m P_m to `grad` for the models `rows`, where
        P_m = mean_n (||g_mn||_2 - 1)^2 and g_mn = dD_m/dx at x[m, n]; return the P_m.

        Written out for piecewise-linear activations (relu, leaky_relu), whose second derivative is 0
        almost everywhere, so the masks s_l = act'(h_l) are constants. With e_l = dD/dh_l:
            e_L = 1;  e_{l-1} = (e_l W_l^T) * s_{l-1};  g = e_1 W_1^T            (the input gradient)
        and, with gamma = dP/dg = lambda (2/N) (||g|| - 1) g / ||g||, backwards through that linear pass:
            dW_1 = gamma^T e_1;  z_1 = (gamma W_1) * s_1;
            dW_l = z_{l-1}^T e_l;  z_l = (z_{l-1} W_l) * s_l                       (l = 2 .. L)
        (the biases only move the masks: their gradient is 0). Other activations go through autograd
        (double backward), the Trainer's way. About 4 forward passes' worth of matmuls, only for `rows`.
        """
        if self.activation not in ("relu", "leaky_relu"):
            x = x.requires_grad_(True)
            out, flat = self.autograd_forward(x, rows)
            (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
            penalty = (grad.norm(2, dim=2) - 1).pow(2).mean(1)
            (dflat,) = torch.autograd.grad((weights * penalty).sum(), flat)
            self.grad.index_add_(0, rows, dflat)
            return penalty.detach()
        Ws = [W[rows] for W in self.W]
        a, cache = x, []
        for l, W in enumerate(Ws[:-1]):  # forward: keep (h, act(h)) to apply act'(h) below
            h = torch.baddbmm(self.b[l][rows], a, W)
            a = _act(self.activation, h)
            cache.append((h, a))
        L = len(Ws)
        e: list[Tensor] = [None] * (L + 1)  # e[l] = dD/dh_l, l = 1 .. L
        e[L] = x.new_ones(x.shape[0], x.shape[1], 1)
        for l in range(L, 1, -1):
            e[l - 1] = _act_backward(self.activation, torch.bmm(e[l], Ws[l - 1].transpose(1, 2)), *cache[l - 2])
        g = torch.bmm(e[1], Ws[0].transpose(1, 2))
        norm = g.norm(2, dim=2, keepdim=True)
        penalty = (norm - 1).pow(2).mean((1, 2))
        # where g = 0, g/||g|| is taken as 0, as autograd's norm backward does
        gamma = g * ((2 / g.shape[1]) * weights.view(-1, 1, 1) * (norm - 1) / norm.clamp_min(1e-30))
        self.dW[0].index_add_(0, rows, torch.bmm(gamma.transpose(1, 2), e[1]))
        if L > 1:
            z = _act_backward(self.activation, torch.bmm(gamma, Ws[0]), *cache[0])
            for l in range(2, L + 1):
                self.dW[l - 1].index_add_(0, rows, torch.bmm(z.transpose(1, 2), e[l]))
                if l < L:
                    z = _act_backward(self.activation, torch.bmm(z, Ws[l - 1]), *cache[l - 1])
        return penalty

    def matmul_flops(self, batch: int) -> int:
        """Multiply-adds x 2 of one forward pass of all M models over `batch` rows."""
        return 2 * batch * sum(i * o for i, o in self.shapes) * self.params.shape[0]


# ---------------------------------------------------------------- optimizers on stacked rows


class StackedOptimizer:
    """Adam, RMSProp or SGD for each row of a (M, P) buffer, matching torch.optim's formulas:

    Adam:    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
             p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
    RMSProp: v = 0.99 v + 0.01 g^2;  p -= lr * g / (sqrt(v) + eps)
    SGD:     u = mu u + g (u = g at t=1);  p -= lr * u
    """

    def __init__(self, net: StackedMLP, kinds: list[str], lrs: list[float], betas: list[tuple[float, float]],
                 momentum: list[float]):
        M = len(kinds)
        self.net, self.kinds = net, kinds
        self.lr = torch.tensor(lrs).view(M, 1)
        self.b1 = torch.tensor([b[0] for b in betas]).view(M, 1)
        self.b2 = torch.tensor([b[1] for b in betas]).view(M, 1)
        self.mu = torch.tensor(momentum).view(M, 1)
        self.m = torch.zeros_like(net.params)
        self.v = torch.zeros_like(net.params)
        self.t = torch.zeros(M, 1)
        self.eps = 1e-8
        self.groups = {k: torch.tensor([i for i, x in enumerate(kinds) if x == k]) for k in set(kinds)}
        self.lockstep = True  # every row has taken every step so far
        self._check_hyper()

    def _check_hyper(self) -> None:
        self.same_hyper = len(self.groups) == 1 and all(bool((x == x[0]).all()) for x in (self.lr, self.b1, self.b2))

    def set_lr(self, lrs: list[float]) -> None:
        self.lr = torch.tensor(lrs, dtype=self.lr.dtype).view(-1, 1)
        self._check_hyper()

    def step(self, rows: Tensor | None = None) -> None:
        """Update the rows given (default all) from net.grad, then zero the gradients."""
        p, g = self.net.params, self.net.grad
        everyone = rows is None or len(rows) == len(self.kinds)
        if not everyone:
            self.lockstep = False
        for kind, idx in self.groups.items():
            if not everyone:
                idx = idx[torch.isin(idx, rows)]
                if len(idx) == 0:
                    continue
            self._update(kind, slice(None) if len(idx) == len(self.kinds) else idx, p, g)
        g.zero_()

    def _uniform(self, sel) -> bool:
        """Every row shares lr, betas and step count: the update can use scalars and fused ops."""
        return isinstance(sel, slice) and self.lockstep and self.same_hyper

    def _update(self, kind, sel, p, g):
        if kind != "sgd" and self._uniform(sel):
            self.t += 1
            t, lr, b1, b2 = float(self.t[0]), float(self.lr[0]), float(self.b1[0]), float(self.b2[0])
            if kind == "adam":
                self.m.mul_(b1).add_(g, alpha=1 - b1)
                self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = self.v.sqrt().div_(math.sqrt(1 - b2 ** t)).add_(self.eps)
                p.addcdiv_(self.m, denom, value=-lr / (1 - b1 ** t))
            else:
                self.v.mul_(0.99).addcmul_(g, g, value=0.01)
                p.addcdiv_(g, self.v.sqrt().add_(self.eps), value=-lr)
            return
        gs = g[sel]
        t = self.t[sel] + 1
        self.t[sel] = t
        lr = self.lr[sel]
        if kind == "adam":
            b1, b2 = self.b1[sel], self.b2[sel]
            m = self.m[sel].mul_(b1).add_((1 - b1) * gs)
            v = self.v[sel].mul_(b2).add_((1 - b2) * gs * gs)
            denom = (v.sqrt() / (1 - b2 ** t).sqrt()).add_(self.eps)
            update = (lr / (1 - b1 ** t)) * m / denom
            self.m[sel], self.v[sel] = m, v
        elif kind == "rmsprop":
            v = self.v[sel].mul_(0.99).add_(0.01 * gs * gs)
            update = lr * gs / (v.sqrt() + self.eps)
            self.v[sel] = v
        elif kind == "sgd":
            mu = self.mu[sel]
            u = torch.where(t == 1, gs, self.m[sel] * mu + gs)
            self.m[sel] = u
            update = lr * u
        else:
            raise ValueError(f"unknown optimizer {kind!r}")
        if isinstance(sel, slice):
            p.sub_(update)
        else:
            p[sel] = p[sel] - update


# ---------------------------------------------------------------- the lab


def shape_key(cfg: Config) -> tuple:
    """Configurations with equal keys share one stack of weights. k_d is part of the key so that a
    k = 1 model does not ride along (computing, then discarding) the extra D steps of a k = 5 one."""
    m = cfg.model
    return (m.nz, m.data_dim, m.g_depth, m.g_width, m.d_depth, m.d_width, m.activation, m.pack,
            cfg.train.batch_size, cfg.train.k_d)


def _packed(x: Tensor, pack: int) -> Tensor:
    """(M, N, d) -> (M, N / pack, d * pack): consecutive rows side by side, as MLPDiscriminator packs them."""
    M, N, d = x.shape
    return x.reshape(M, N // pack, d * pack)


@dataclass
class _Group:
    index: list[int]          # positions of these configurations in the lab
    cfgs: list[Config]
    G: StackedMLP
    D: StackedMLP                        # input: `pack` samples side by side (PacGAN; 1: one sample)
    opt_G: StackedOptimizer
    opt_D: StackedOptimizer
    losses: list = field(default_factory=list)
    ema: Tensor | None = None            # moving average of G's weights (rows without one: a copy)
    ema_decay: Tensor | None = None      # (M, 1): 0 where a configuration keeps no average
    clip: Tensor | None = None           # (M, 1) weight-clipping bounds (inf: none), if any row clips
    last_push: tuple[Tensor, Tensor] | None = None  # the last G step's fakes and -dL_G/dx


class ToyLab:
    """Train the configurations `cfgs` side by side on `data` (a ToyDistribution)."""

    def __init__(self, cfgs: list[Config], data: ToyDistribution):
        if not cfgs:
            raise ValueError("the toy lab needs at least one configuration")
        for cfg in cfgs:
            if cfg.model.arch != "mlp":
                raise ValueError("the toy lab trains MLP GANs (model.arch 'mlp')")
            if cfg.model.data_dim != data.dim:
                raise ValueError(f"model.data_dim {cfg.model.data_dim} does not match the {data.dim}-D data")
        self.cfgs, self.data = list(cfgs), data
        self.step = 0  # generator steps, as in the Trainer
        self._partial = 0  # D-only / G-only iterations so far, so each draws fresh batches
        self.groups: list[_Group] = []
        keys: dict[tuple, list[int]] = {}
        for i, cfg in enumerate(cfgs):
            keys.setdefault(shape_key(cfg), []).append(i)
        for idx in keys.values():
            gs, ds = [], []
            for i in idx:
                torch.manual_seed(cfgs[i].train.seed)  # the Trainer's initialisation
                g, d = build_gan(cfgs[i].model)
                gs.append(g)
                ds.append(d)
            m = cfgs[idx[0]].model
            G = StackedMLP([m.nz] + [m.g_width] * m.g_depth + [m.data_dim], m.activation, gs)
            D = StackedMLP([m.data_dim * m.pack] + [m.d_width] * m.d_depth + [1], m.activation, ds)
            t = [cfgs[i].train for i in idx]
            opt_G = StackedOptimizer(G, [x.optimizer for x in t], [x.lr_g for x in t], [x.betas for x in t],
                                     [x.momentum for x in t])
            opt_D = StackedOptimizer(D, [x.optimizer for x in t], [x.lr_d for x in t], [x.betas for x in t],
                                     [x.momentum for x in t])
            decay = torch.tensor([x.ema_decay or 0.0 for x in t]).view(-1, 1)
            clip = torch.tensor([x.clip_value or math.inf for x in t]).view(-1, 1)
            self.groups.append(_Group(idx, [cfgs[i] for i in idx], G, D, opt_G, opt_D,
                                      [get_loss(x.loss) for x in t],
                                      G.params.clone() if any(x.ema_decay is not None for x in t) else None, decay,
                                      clip if torch.isfinite(clip).any() else None))
        self.history: list[list[dict]] = [[] for _ in cfgs]
        self.diverged: list[str | None] = [None for _ in cfgs]
        self.is_copy = False
        self.updates = 0  # training iterations so far, D- or G-only ones included: the same count, the same weights

    def frozen(self) -> "ToyLab":
        """This lab as it stands, for drawing while it trains on: the weights, G's moving average and
        the divergence notes copied (about 1 MB for four default models), the rest shared (the
        history keeps growing with this lab's). Its views (sample, discriminator, manifold, push,
        step) read the copy; it cannot be trained."""
        twin = copy.copy(self)
        twin.groups = [dataclasses.replace(g, G=g.G.copy(), D=g.D.copy(), ema=None if g.ema is None else g.ema.clone())
                       for g in self.groups]
        twin.diverged = list(self.diverged)
        twin.is_copy = True
        return twin

    # ------------------------------------------------------------ randomness, as the Trainer draws it

    def _rng(self, cfg: Config, step: int, partial: int = 0) -> torch.Generator:
        """The Trainer's generator for a full step; a distinct stream for each partial (D- or G-only) one."""
        seed = cfg.train.seed * 1_000_003 + step
        return torch.Generator().manual_seed(seed if partial == 0 else seed * 65_537 + partial)

    # ------------------------------------------------------------ Algorithm 1, batched

    @staticmethod
    def _loss_grads(losses, fn: str, *outs: Tensor) -> tuple[list[Tensor], list[float]]:
        """dL/d(out) for each model's own loss (its closed-form derivative) and the loss values."""
        grads, values = [[] for _ in outs], []
        for m, loss in enumerate(losses):
            parts = [o[m] for o in outs]
            values.append(float(getattr(loss, fn)(*parts)))
            g = loss.d_grad(*parts) if fn == "d_loss" else (loss.g_grad(*parts),)
            for k, gk in enumerate(g):
                grads[k].append(gk)
        return [torch.stack(g) for g in grads], values

    def _d_step(self, grp: _Group, gens: list[torch.Generator], active: Tensor, sigmas: list[float]) -> list[dict]:
        cfgs = grp.cfgs
        B = cfgs[0].train.batch_size
        # Rows sitting out this D step (their k_d is spent) draw nothing, so every model's
        # random stream stays exactly the one it would have alone.
        on = [m in set(active.tolist()) for m in range(len(cfgs))]
        x = torch.stack([self.data.sample(B, g) if a else torch.zeros(B, self.data.dim) for a, g in zip(on, gens)])
        z = torch.stack([sample_noise(B, c.model.nz, c.model.noise, generator=g) if a else torch.zeros(B, c.model.nz)
                         for a, c, g in zip(on, cfgs, gens)])
        fake, _ = grp.G.forward(z)
        x = torch.stack([xi + s * torch.randn(xi.shape, generator=g) if s > 0 and a else xi
                         for xi, s, g, a in zip(x, sigmas, gens, on)])
        fake = torch.stack([fi + s * torch.randn(fi.shape, generator=g) if s > 0 and a else fi
                            for fi, s, g, a in zip(fake, sigmas, gens, on)])
        pack = cfgs[0].model.pack
        out, cache = grp.D.forward(_packed(torch.cat([x, fake], 1), pack), keep=True)
        out = out.squeeze(-1)
        n = B // pack  # scores per side
        (d_real, d_fake), values = self._loss_grads(grp.losses, "d_loss", out[:, :n], out[:, n:])
        grp.D.backward(cache, torch.cat([d_real, d_fake], 1).unsqueeze(-1))
        gp_values = self._gradient_penalty(grp, x, fake, gens, on)
        grp.opt_D.step(active)
        if grp.clip is not None:
            grp.D.params.copy_(torch.maximum(torch.minimum(grp.D.params, grp.clip), -grp.clip))
        stats = []
        for m, c in enumerate(cfgs):
            r, f = out[m, :n], out[m, n:]
            squash = (lambda v: v) if grp.losses[m].critic else torch.sigmoid
            s = {"loss_d": values[m], "d_real": float(squash(r).mean()), "d_fake": float(squash(f).mean())}
            if m in gp_values:
                s["gp"] = gp_values[m]
            stats.append(s)
        return stats

    def _gradient_penalty(self, grp: _Group, x: Tensor, fake: Tensor, gens: list[torch.Generator],
                          on: list[bool]) -> dict[int, float]:
        """lambda * E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1-eps) G(z), for the models with a
        penalty that take this D step (StackedMLP.gradient_penalty); {model: penalty}."""
        use = [m for m, (loss, a) in enumerate(zip(grp.losses, on)) if loss.gradient_penalty and a]
        if not use:
            return {}
        pack, n = grp.cfgs[0].model.pack, x.shape[1]
        rows = torch.tensor(use)
        # one eps per pack, drawn as the Trainer draws it
        eps = torch.stack([torch.rand((n // pack, 1), generator=gens[m]).repeat_interleave(pack, 0) for m in use])
        x_hat = _packed(eps * x[rows] + (1 - eps) * fake[rows], pack)
        weights = torch.tensor([grp.cfgs[m].train.gp_weight for m in use])
        penalty = grp.D.gradient_penalty(x_hat, rows, weights)
        return dict(zip(use, penalty.tolist()))

    def _g_step(self, grp: _Group, gens: list[torch.Generator], sigmas: list[float]) -> list[dict]:
        cfgs = grp.cfgs
        B = cfgs[0].train.batch_size
        z = torch.stack([sample_noise(B, c.model.nz, c.model.noise, generator=g) for c, g in zip(cfgs, gens)])
        fake, g_cache = grp.G.forward(z, keep=True)
        noisy = torch.stack([fi + s * torch.randn(fi.shape, generator=g) if s > 0 else fi
                             for fi, s, g in zip(fake, sigmas, gens)])
        out, d_cache = grp.D.forward(_packed(noisy, cfgs[0].model.pack), keep=True)
        (d_out,), values = self._loss_grads(grp.losses, "g_loss", out.squeeze(-1))
        d_fake = grp.D.backward(d_cache, d_out.unsqueeze(-1), weights=False, inputs=True).reshape(fake.shape)
        grp.G.backward(g_cache, d_fake)
        grp.opt_G.step()
        if grp.ema is not None:  # theta_ema <- d theta_ema + (1 - d) theta, as the Trainer does
            grp.ema.lerp_(grp.G.params, 1 - grp.ema_decay)
        grp.last_push = (fake, -d_fake)
        return [{"loss_g": v} for v in values]

    def train(self, steps: int = 1, what: str = "both") -> None:
        """`steps` iterations of Algorithm 1 ('both'), or of its D part ('d') or G part ('g') alone."""
        if what not in ("both", "d", "g"):
            raise ValueError("what must be 'both', 'd' or 'g'")
        if self.is_copy:
            raise RuntimeError("a frozen copy of a lab is for reading; train the lab itself")
        for _ in range(steps):
            self.updates += 1
            partial = 0
            if what != "both":
                self._partial += 1
                partial = self._partial
            for grp in self.groups:
                gens = [self._rng(c, self.step, partial) for c in grp.cfgs]
                sigmas = [c.train.noise_sigma(self.step) for c in grp.cfgs]
                self._schedule_lr(grp)
                stats: list[dict] = [{} for _ in grp.cfgs]
                if what in ("both", "d"):
                    k_max = max(c.train.k_d for c in grp.cfgs)
                    for k in range(k_max):
                        active = torch.tensor([m for m, c in enumerate(grp.cfgs) if c.train.k_d > k])
                        d_stats = self._d_step(grp, gens, active, sigmas)
                        for m in active.tolist():
                            stats[m].update(d_stats[m])
                if what in ("both", "g"):
                    for m, s in enumerate(self._g_step(grp, gens, sigmas)):
                        stats[m].update(s)
                for m, i in enumerate(grp.index):
                    record = {"step": self.step + 1, **stats[m]}
                    if sigmas[m]:
                        record["sigma"] = sigmas[m]
                    if grp.losses[m].critic and "loss_d" in record:
                        record["w_estimate"] = -record["loss_d"]
                    self._check_finite(grp, m, i, record)
                    self.history[i].append(record)
            if what in ("both", "g"):
                self.step += 1

    def finished(self) -> bool:
        """Nothing left to train: every configuration has diverged, or its learning rates reached 0 at
        the end of its linear decay (train.steps), after which its weights no longer change."""
        return all(d is not None or (c.train.lr_decay != "none" and self.step >= c.train.steps)
                   for c, d in zip(self.cfgs, self.diverged))

    def _check_finite(self, grp: _Group, m: int, i: int, record: dict) -> None:
        if self.diverged[i] is not None:
            return
        bad = [k for k in ("loss_d", "loss_g", "gp") if k in record and not math.isfinite(record[k])]
        # weights can overflow while the losses still read finite; a look every 16 steps is enough
        weights_bad = record["step"] % 16 == 0 and not (torch.isfinite(grp.G.params[m]).all()
                                                       and torch.isfinite(grp.D.params[m]).all())
        if bad or weights_bad:
            what = ", ".join(f"{k} = {record[k]}" for k in bad) or "the weights"
            self.diverged[i] = f"step {record['step']}: {what} became NaN or infinite"

    # ------------------------------------------------------------ what the views draw

    def _locate(self, i: int) -> tuple[_Group, int]:
        for grp in self.groups:
            if i in grp.index:
                return grp, grp.index.index(i)
        raise IndexError(i)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> list[Tensor]:
        """n samples G(z) per configuration (from the moving average of G where the recipe keeps one),
        z from `seed`, the same z for every configuration."""
        out = [None] * len(self.cfgs)
        for grp in self.groups:
            c = grp.cfgs[0].model
            z = sample_noise(n, c.nz, c.noise, generator=torch.Generator().manual_seed(seed))
            x, _ = grp.G.forward(z.expand(len(grp.cfgs), -1, -1).contiguous(), params=grp.ema)
            for m, i in enumerate(grp.index):
                out[i] = x[m]
        return out

    @torch.no_grad()
    def discriminator(self, points: Tensor) -> list[Tensor]:
        """D(x) on `points` (N, dim): sigmoid(logit) for the log-loss family, the raw score for critics
        and for LSGAN/hinge, whose outputs are not probabilities. A packing D (PacGAN) is shown on
        packs of one point repeated, D(x, x, ..., x)."""
        out = [None] * len(self.cfgs)
        for grp in self.groups:
            packs = points.repeat(1, grp.cfgs[0].model.pack)
            v, _ = grp.D.forward(packs.expand(len(grp.cfgs), -1, -1).contiguous())
            v = v.squeeze(-1)
            for m, i in enumerate(grp.index):
                name = grp.losses[m].name
                out[i] = torch.sigmoid(v[m]) if name in ("minimax", "nonsaturating") else v[m]
        return out

    @torch.no_grad()
    def manifold(self, lines: int = 15, points: int = 40, extent: float = 2.0) -> list[Tensor]:
        """G applied to a grid of z (2-D noise only): (2 * lines, points, data_dim) polylines per model."""
        t = torch.linspace(-extent, extent, points)
        u = torch.linspace(-extent, extent, lines)
        grid = torch.cat([torch.stack(torch.meshgrid(u, t, indexing="ij"), -1),
                          torch.stack(torch.meshgrid(u, t, indexing="ij"), -1).flip(-1)])
        out = [None] * len(self.cfgs)
        for grp in self.groups:
            if grp.cfgs[0].model.nz != 2:
                continue
            flat = grid.reshape(1, -1, 2).expand(len(grp.cfgs), -1, -1).contiguous()
            x, _ = grp.G.forward(flat, params=grp.ema)
            for m, i in enumerate(grp.index):
                out[i] = x[m].reshape(2 * lines, points, -1)
        return out

    def push(self, n: int = 200) -> list[tuple[Tensor, Tensor] | None]:
        """(points, directions) per model: the last G step's fake points and -dL_G/dx scaled by the
        batch size, i.e. the direction in which that step moved each sample."""
        out: list = [None] * len(self.cfgs)
        for grp in self.groups:
            if grp.last_push is None:
                continue
            fake, direction = grp.last_push
            for m, i in enumerate(grp.index):
                out[i] = (fake[m, :n], direction[m, :n] * fake.shape[1])
        return out

    def _schedule_lr(self, grp: _Group) -> None:
        """The recipes' learning rates at this step (train.lr_decay), as the Trainer sets them."""
        if all(c.train.lr_decay == "none" for c in grp.cfgs):
            return
        scale = [c.train.lr_scale(self.step) for c in grp.cfgs]
        grp.opt_G.set_lr([c.train.lr_g * f for c, f in zip(grp.cfgs, scale)])
        grp.opt_D.set_lr([c.train.lr_d * f for c, f in zip(grp.cfgs, scale)])

    def flops_per_step(self) -> int:
        """Matmul FLOPs of one Algorithm-1 iteration of all configurations, as this lab computes them.

        With F(net) one forward pass over B rows and F1, FL its first and last layer's shares:
        D step (x k_d): G fwd F(G) + D fwd on 2B 2F(D) + D weight grads 2F(D) + D input grads above
        the first layer 2(F(D) - F1(D)), plus for each model with a gradient penalty
        4F(D) - 2FL(D) (StackedMLP.gradient_penalty: forward without the last layer, the input
        gradient, and its weight gradients); G step: G fwd F(G) + D fwd F(D) + D input grads F(D) +
        G weight grads F(G) + G input grads above the first layer F(G) - F1(G).
        """
        total = 0
        for grp in self.groups:
            B, M = grp.cfgs[0].train.batch_size, len(grp.cfgs)
            Bd = B // grp.cfgs[0].model.pack  # D sees B / pack packed rows
            fG, fD = grp.G.matmul_flops(B), grp.D.matmul_flops(Bd)
            f1G = 2 * B * M * grp.G.shapes[0][0] * grp.G.shapes[0][1]
            f1D = 2 * Bd * M * grp.D.shapes[0][0] * grp.D.shapes[0][1]
            fLD = 2 * Bd * M * grp.D.shapes[-1][0] * grp.D.shapes[-1][1]
            with_gp = sum(loss.gradient_penalty for loss in grp.losses)
            d_step = fG + 6 * fD - 2 * f1D + with_gp * (4 * fD - 2 * fLD) // M
            g_step = 3 * fG - f1G + 2 * fD
            total += max(c.train.k_d for c in grp.cfgs) * d_step + g_step
        return total


# ---------------------------------------------------------------- a shareable description of a lab session

TOY_SOURCES = ("ring8", "grid25", "swissroll", "moons", "line", "draw", "csv")


class ModelSpec(BaseModel):
    """One configuration of the lab: a loss and what the user changed from its default recipe."""
    model_config = ConfigDict(extra="forbid")
    loss: str = "nonsaturating"
    optimizer: str = "adam"
    lr_g: float = Field(2e-3, gt=0)
    lr_d: float = Field(2e-3, gt=0)
    lr_decay: str = "linear"
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    k_d: int = Field(1, ge=1, le=20)
    clip: float = Field(0.01, gt=0)
    gp: float = Field(10.0, ge=0)
    sigma: float = Field(0.0, ge=0)
    anneal: str = "linear"
    g_depth: int = Field(3, ge=1, le=6)
    g_width: int = Field(128, ge=4, le=512)
    d_depth: int = Field(3, ge=1, le=6)
    d_width: int = Field(128, ge=4, le=512)
    activation: str = "relu"
    nz: int = Field(2, ge=1, le=64)
    noise: str = "normal"
    pack: int = Field(1, ge=1, le=8)

    @classmethod
    def default(cls, loss: str) -> "ModelSpec":
        """The lab's default settings for `loss` (loss_defaults, read through SPEC_KEYS)."""
        recipe = loss_defaults(loss)
        fields = {"loss": loss}
        for key, name in SPEC_KEYS.items():
            if key in recipe and recipe[key] is not None:
                fields.update(zip(name, recipe[key]) if isinstance(name, tuple) else {name: recipe[key]})
        return cls(**fields)

    def overrides(self) -> dict[str, object]:
        """These settings as recipe overrides (SPEC_KEYS); clipping only for WGAN."""
        out = {key: tuple(getattr(self, n) for n in name) if isinstance(name, tuple) else getattr(self, name)
               for key, name in SPEC_KEYS.items()}
        out["train.clip_value"] = self.clip if self.loss == "wgan" else None
        return out


# The lab's settings <-> recipe keys, both ways (ModelSpec.default and .overrides).
SPEC_KEYS: dict[str, str | tuple[str, ...]] = {
    "train.optimizer": "optimizer", "train.lr_g": "lr_g", "train.lr_d": "lr_d", "train.lr_decay": "lr_decay",
    "train.betas": ("beta1", "beta2"), "train.k_d": "k_d", "train.clip_value": "clip", "train.gp_weight": "gp",
    "train.instance_noise.sigma": "sigma", "train.instance_noise.anneal": "anneal", "model.g_depth": "g_depth",
    "model.g_width": "g_width", "model.d_depth": "d_depth", "model.d_width": "d_width",
    "model.activation": "activation", "model.nz": "nz", "model.noise": "noise", "model.pack": "pack"}


class LabSpec(BaseModel):
    """Everything that defines a toy-lab experiment; it round-trips through a URL parameter."""
    model_config = ConfigDict(extra="forbid")
    data: str = "ring8"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    batch: int = Field(512, ge=8, le=4096)
    models: list[ModelSpec] = Field(default_factory=lambda: [ModelSpec.default("nonsaturating")], min_length=1,
                                    max_length=4)

    def configs(self) -> list[Config]:
        dataset = self.data if self.data not in ("draw", "csv") else "ring8"  # user data is passed to the lab
        return [toy_recipe(dataset, m.loss, self.seed, {**m.overrides(), "train.batch_size": self.batch})
                for m in self.models]

    def to_url(self) -> str:
        """Compact: only what differs from the defaults, as base64url JSON."""
        body = {k: v for k, v in self.model_dump(exclude={"models"}).items() if v != LabSpec.model_fields[k].default}
        body["models"] = [{k: v for k, v in m.model_dump().items() if k == "loss" or v != getattr(ModelSpec.default(m.loss), k)}
                          for m in self.models]
        raw = json.dumps(body, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_url(cls, text: str) -> "LabSpec":
        """Inverse of to_url; raises ValueError with the reason for a damaged or foreign value."""
        try:
            body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            models = [ModelSpec.default(m.get("loss", "nonsaturating")).model_copy(update=m)
                      for m in body.pop("models", [{}])]
            spec = cls(**body, models=[ModelSpec(**m.model_dump()) for m in models])
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, TypeError, AttributeError) as e:
            raise ValueError(f"the link's lab settings cannot be read ({e})") from None
        except Exception as e:  # pydantic's ValidationError and a config the recipes refuse
            raise ValueError(f"the link's lab settings are not valid: {str(e).splitlines()[0]}") from None
        spec.configs()  # every configuration must validate as a recipe
        return spec
