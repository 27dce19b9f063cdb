"""Divergences in practice: what a trained discriminator or critic tells the generator.

Parallel lines (WGAN paper, Example 1): P0 = (0, Z) and P_theta = (theta, Z), Z ~ U[0, 1].
The generator is the single parameter theta, x_fake = (theta, z). For every theta on a grid we
train, side by side,

    a GAN discriminator D   on  L_D = -E_P0[log D(x)] - E_Ptheta[log(1 - D(x))]
    a WGAN critic C         on  L_C = E_Ptheta[C(x)] - E_P0[C(x)]  (+ lambda * gradient penalty,
                                or weight clipping to [-c, c])

and then read the gradient the generator would get, by autograd through (theta, z):

    GAN   dL_G/dtheta,  L_G = E_z[log(1 - D(theta, z))]  (minimax)  or  -E_z[log D(theta, z)]
    WGAN  dL_G/dtheta,  L_G = -E_z[C(theta, z)]

Theory: with disjoint supports the optimal D is 1 on P0 and 0 on P_theta and flat around the
fakes, so the minimax gradient vanishes (JS = log 2 for every theta != 0 carries no slope),
while W1 = |theta| gives dW1/dtheta = sign(theta): a critic with slope 1 between the lines
passes that constant gradient on.

All the discriminators of one grid train together as a stack of independent MLPs (one
batched matmul per layer); the summed loss keeps them independent because Adam and RMSProp
act on every weight separately.

Mode covering vs mode seeking: one Gaussian q fitted to a two-component mixture p by
KL(p||q), KL(q||p) and JS (see gan_core.theory.fit_gaussian).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import vmap

from .. import theory
from . import one_thread
from ..losses import get_loss, gradient_penalty
from ..nets.mlp import mlp

GAN_LOSSES = ("minimax", "nonsaturating")
LIPSCHITZ = ("gp", "clip")


@dataclass(frozen=True)
class GradientSettings:
    """One run of the parallel-lines gradient experiment; hashable, so it can key a cache."""

    n_thetas: int = 9            # theta grid: n_thetas evenly spaced values in [-1, 1]
    steps: int = 300             # training steps of D and of the critic, for every theta
    gan_loss: str = "minimax"    # the generator loss read off D: minimax or nonsaturating
    lipschitz: str = "gp"        # how the critic is kept Lipschitz: gp (gradient penalty) or clip
    clip_value: float = 0.01     # c for weight clipping
    gp_weight: float = 10.0      # lambda for the gradient penalty
    batch_size: int = 64         # samples of P0 and of P_theta per step
    width: int = 64
    depth: int = 2
    lr_d: float = 1e-3           # Adam for D; Adam (GP) or RMSProp (clipping) for the critic
    lr_critic: float = 1e-3
    record_every: int = 10       # read the generator's gradient every this many steps
    eval_samples: int = 512      # z's behind each gradient reading (fixed, so readings compare)
    seed: int = 0

    def __post_init__(self):
        if self.n_thetas < 2:
            raise ValueError("n_thetas must be at least 2")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.gan_loss not in GAN_LOSSES:
            raise ValueError(f"gan_loss must be one of {', '.join(GAN_LOSSES)}")
        if self.lipschitz not in LIPSCHITZ:
            raise ValueError(f"lipschitz must be one of {', '.join(LIPSCHITZ)}")
        if self.clip_value <= 0:
            raise ValueError("clip_value must be positive")

    @property
    def thetas(self) -> np.ndarray:
        return np.linspace(-1.0, 1.0, self.n_thetas)


class StackedMLP(nn.Module):
    """T independent copies of gan_core.nets.mlp(in_dim, 1, depth, width, activation):
    (T, B, in_dim) -> (T, B), copy t applied to batch t, layer by layer

        h_t <- act(h_t W_t^T + b_t)     (one batched matmul for all t; no act after the last layer)

    Each copy starts from PyTorch's default Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    drawn from `generator` so that a seed fixes every weight.
    """

    def __init__(self, copies: int, in_dim: int, depth: int, width: int, generator: torch.Generator,
                 activation: str = "relu"):
        super().__init__()
        # a plain list, not a registered submodule: only the layout and activations are used
        self.layers = list(mlp(in_dim, 1, depth, width, activation))
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                w = torch.empty(copies, layer.out_features, layer.in_features).uniform_(-bound, bound, generator=generator)
                b = torch.empty(copies, 1, layer.out_features).uniform_(-bound, bound, generator=generator)
                self.weights.append(nn.Parameter(w))
                self.biases.append(nn.Parameter(b))

    def forward(self, x: Tensor) -> Tensor:
        i = 0
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                x = torch.baddbmm(self.biases[i], x, self.weights[i].transpose(1, 2))
                i += 1
            else:
                x = layer(x)
        return x.squeeze(-1)

    def clip_(self, c: float) -> None:
        """Weight clipping: every weight and bias into [-c, c]."""
        with torch.no_grad():
            for p in self.parameters():
                p.clamp_(-c, c)


def line_samples(x_offsets: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """(T, n, 2) points (x_t, z), z ~ U[0, 1]: n samples of each vertical line x = x_t."""
    z = torch.rand(len(x_offsets), n, generator=generator)
    return torch.stack([x_offsets[:, None].expand_as(z), z], dim=-1)


@dataclass
class GradientHistory:
    """What the experiment measured at the steps `read_at` (every record_every steps and the
    last), each a (T,) array per reading, on fixed evaluation samples of P0 and P_theta."""

    thetas: np.ndarray
    d_loss: list[np.ndarray] = field(default_factory=list)
    critic_loss: list[np.ndarray] = field(default_factory=list)
    read_at: list[int] = field(default_factory=list)
    gan_grad: list[np.ndarray] = field(default_factory=list)
    wgan_grad: list[np.ndarray] = field(default_factory=list)

    def nearest(self, theta: float) -> int:
        """Index of the grid value closest to theta."""
        return int(np.argmin(np.abs(self.thetas - theta)))


class ParallelLinesGradients:
    """Trains one GAN discriminator and one WGAN critic per theta on P0 vs P_theta, in steps, so a
    caller can show the training live; `history` holds what was measured so far.

        D step:       minimise T * L_D                (Adam, betas 0.5, 0.9, as in the WGAN-GP paper)
        critic step:  minimise T * (L_C + lambda GP)  (the same Adam)
                      or T * L_C, then clamp every weight to [-c, c]  (RMSProp, as in the WGAN paper)

    The factor T undoes the mean over the T stacked models, so each sees its own loss. RMSProp
    runs at lr 1e-3 rather than the paper's 5e-5, to converge in a few hundred steps.
    Deterministic given settings.seed.
    """

    def __init__(self, settings: GradientSettings):
        self.settings = s = settings
        self.thetas = torch.tensor(s.thetas, dtype=torch.float32)
        self.rng = torch.Generator().manual_seed(s.seed)
        T = len(self.thetas)
        self.disc = StackedMLP(T, 2, s.depth, s.width, self.rng)
        self.critic = StackedMLP(T, 2, s.depth, s.width, self.rng)
        self.gan = get_loss(s.gan_loss)
        self.wgan = get_loss("wgan-gp" if s.lipschitz == "gp" else "wgan")
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=s.lr_d, betas=(0.5, 0.9), foreach=True)
        if s.lipschitz == "gp":
            self.opt_c = torch.optim.Adam(self.critic.parameters(), lr=s.lr_critic, betas=(0.5, 0.9), foreach=True)
        else:
            self.opt_c = torch.optim.RMSprop(self.critic.parameters(), lr=s.lr_critic, foreach=True)
            self.critic.clip_(s.clip_value)  # start inside the clipping box, as training keeps it
        eval_rng = torch.Generator().manual_seed(s.seed + 1)
        self.eval_z = torch.rand(T, s.eval_samples, generator=eval_rng)
        self.eval_real = line_samples(torch.zeros(T), s.eval_samples, eval_rng)
        self.step = 0
        self.seconds = 0.0
        self.history = GradientHistory(s.thetas)
        self._record()

    @property
    def done(self) -> bool:
        return self.step >= self.settings.steps

    @property
    def progress(self) -> float:
        return self.step / self.settings.steps

    def generator_gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(dL_G/dtheta for the GAN, dL_G/dtheta for the WGAN) at every theta, by autograd through
        x_fake = (theta, z) on a fixed set of z's, with D and the critic frozen as they are now."""
        return self._read()[2:]

    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(L_D, L_C, GAN dL_G/dtheta, WGAN dL_G/dtheta) per theta on the fixed evaluation samples;
        L_C without the penalty, so that -L_C is the critic's estimate of W1 (times its Lipschitz K)."""
        theta = self.thetas.clone().requires_grad_(True)
        fake = torch.stack([theta[:, None].expand_as(self.eval_z), self.eval_z], dim=-1)
        T = len(theta)
        d_fake, c_fake = self.disc(fake), self.critic(fake)
        (gan,) = torch.autograd.grad(T * self.gan.g_loss(d_fake), theta)
        (wgan,) = torch.autograd.grad(T * self.wgan.g_loss(c_fake), theta)
        with torch.no_grad():
            d_real, c_real = self.disc(self.eval_real), self.critic(self.eval_real)
            d_loss = vmap(self.gan.d_loss)(d_real, d_fake.detach())
            c_loss = vmap(self.wgan.d_loss)(c_real, c_fake.detach())
        return d_loss.numpy(), c_loss.numpy(), gan.numpy(), wgan.numpy()

    def _record(self) -> None:
        h = self.history
        d_loss, c_loss, gan, wgan = self._read()
        h.read_at.append(self.step)
        h.d_loss.append(d_loss)
        h.critic_loss.append(c_loss)
        h.gan_grad.append(gan)
        h.wgan_grad.append(wgan)

    def _train_step(self) -> None:
        s, T, n = self.settings, len(self.thetas), self.settings.batch_size
        zeros = torch.zeros_like(self.thetas)

        real, fake = line_samples(zeros, n, self.rng), line_samples(self.thetas, n, self.rng)
        d_out = self.disc(torch.cat([real, fake], dim=1))
        d_loss = self.gan.d_loss(d_out[:, :n], d_out[:, n:])
        self.opt_d.zero_grad(set_to_none=True)
        (T * d_loss).backward()
        self.opt_d.step()

        real, fake = line_samples(zeros, n, self.rng), line_samples(self.thetas, n, self.rng)
        c_out = self.critic(torch.cat([real, fake], dim=1))
        c_loss = self.wgan.d_loss(c_out[:, :n], c_out[:, n:])
        total = c_loss
        if self.wgan.gradient_penalty:
            # flattened so the penalty draws one interpolation weight per sample, not per model
            penalty = gradient_penalty(lambda v: self.critic(v.view(T, n, 2)).reshape(-1),
                                       real.reshape(-1, 2), fake.reshape(-1, 2), generator=self.rng)
            total = c_loss + s.gp_weight * penalty
        self.opt_c.zero_grad(set_to_none=True)
        (T * total).backward()
        self.opt_c.step()
        if s.lipschitz == "clip":
            self.critic.clip_(s.clip_value)

        self.step += 1
        if self.step % s.record_every == 0 or self.done:
            self._record()

    def train(self, steps: int) -> None:
        """Advance up to `steps` training steps (not past settings.steps)."""
        start = time.perf_counter()
        with one_thread():
            for _ in range(min(steps, self.settings.steps - self.step)):
                self._train_step()
        self.seconds += time.perf_counter() - start

    def train_for(self, seconds: float) -> None:
        """Advance for about `seconds` of wall time (at least one step), for a live view."""
        start = time.perf_counter()
        with one_thread():
            while not self.done:
                self._train_step()
                if time.perf_counter() - start >= seconds:
                    break
        self.seconds += time.perf_counter() - start


FIT_DIVERGENCES = ("kl_pq", "kl_qp", "js")


@dataclass(frozen=True)
class GaussianFit:
    divergence: str   # kl_pq = KL(p||q), kl_qp = KL(q||p), js = JS(p||q)
    mean: float
    std: float
    value: float      # the divergence it minimised, at its optimum


@dataclass(frozen=True)
class MixtureFits:
    """p on the grid x and the Gaussian fitted to it by each divergence."""

    x: np.ndarray
    p: np.ndarray
    fits: dict[str, GaussianFit]

    def density(self, divergence: str) -> np.ndarray:
        fit = self.fits[divergence]
        return theory.gaussian_pdf(self.x, fit.mean, fit.std)


def two_mode_mixture(separation: float, std_left: float, std_right: float) -> tuple[np.ndarray, np.ndarray]:
    """p(x) = 1/2 N(x; -s/2, std_left^2) + 1/2 N(x; s/2, std_right^2) on a grid x.

    The grid reaches three times past p's bulk, so that a fit spreading over both modes keeps
    its mass on the grid (mass off the grid would go uncounted in every divergence), with at
    least 10 points per width of the narrower mode.
    """
    if separation < 0 or min(std_left, std_right) <= 0:
        raise ValueError("the separation must be >= 0 and the widths > 0")
    reach = 3 * (separation / 2 + 3 * max(std_left, std_right))
    points = max(1601, int(2 * reach / (min(std_left, std_right) / 10)) + 1)
    x = np.linspace(-reach, reach, points)
    return x, theory.mixture_pdf(x, [-separation / 2, separation / 2], [std_left, std_right])


def fit_gaussians(separation: float, std_left: float, std_right: float) -> MixtureFits:
    """One Gaussian q fitted to the two-mode mixture p by each divergence (gan_core.theory.fit_gaussian):

        KL(p||q) = int p log(p/q)   mode covering; optimum matches p's mean and variance
        KL(q||p) = int q log(q/p)   mode seeking; q sits inside p's mass, on one mode if they are apart
        JS(p||q) = 1/2 KL(p||m) + 1/2 KL(q||m),  m = (p + q)/2
    """
    x, p = two_mode_mixture(separation, std_left, std_right)
    fits = {}
    for name in FIT_DIVERGENCES:
        mean, std, value = theory.fit_gaussian(x, p, name)
        fits[name] = GaussianFit(name, mean, std, value)
    return MixtureFits(x, p, fits)


def parallel_lines_curves(points: int = 400) -> dict[str, np.ndarray]:
    """JS, KL both ways, TV and W1 between P0 and P_theta on `points` thetas in [-1, 1]
    (gan_core.theory.parallel_lines at each); an even count leaves out theta = 0, where all are 0."""
    thetas = np.linspace(-1.0, 1.0, points)
    rows = [theory.parallel_lines(float(th)) for th in thetas]
    return {"theta": thetas, **{k: np.array([r[k] for r in rows]) for k in rows[0]}}
