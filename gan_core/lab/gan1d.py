"""The GAN game in one dimension: Figure 1 of Goodfellow et al. (2014), made live.

p_data is a 1D Gaussian mixture, z ~ U[-1, 1], and G, D are small MLPs trained by the
project's own `Trainer` (Algorithm 1). On a grid of x values we read off

    p_g(x)   a Gaussian KDE of G(z) on evenly spaced z:  p_g(x) = 1/(n h) sum_i phi((x - G(z_i)) / h)
    D(x)     = sigmoid(logit(x))
    D*(x)    = p_data(x) / (p_data(x) + p_g(x))                          (Proposition 1)
    V(G, D)  = E_p_data[log D(x)] + E_p_g[log(1 - D(x))]
    C(G)     = V(G, D*) = -log 4 + 2 JS(p_data || p_g)                    (Theorem 1)

and the figure's four phases are real operations on the current model:

    (a) Algorithm 1 until p_g is near p_data: D is only a partially accurate classifier
    (b) D alone, trained for many steps: it approaches D*
    (c) G alone, a few steps against that fixed D: G(z) flows to where D says "data"
    (d) Algorithm 1 until p_g ~ p_data: D(x) ~ 1/2 where the data lie
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from .. import theory
from . import one_thread
from ..recipes import load_recipe
from ..data.toy import ToyDistribution
from ..losses import get_loss
from ..train.trainer import Trainer

PHASES = ("a", "b", "c", "d")
GAN_LOSSES = ("nonsaturating", "minimax")  # D(x) = sigmoid(logit) is a probability only for these

GRID_POINTS = 400
KDE_SAMPLES = 1024       # evenly spaced z behind the KDE of p_g
MAPPING_LINES = 24       # z -> G(z) lines in the figure

NEAR_JS = 0.15           # (a): "near convergence" once JS(p_data || p_g) is below this (nats)
EQUILIBRIUM_JS = 0.03    # (d): minibatch noise keeps a trained 1D GAN at JS ~ 0.01-0.02
CHECK_EVERY = 25         # Algorithm 1 steps between JS checks in (a) and (d)
PHASE_CHUNK = 50         # Algorithm 1 steps per frame when a page shows (a) and (d) live
MAX_STEPS_A = 400
MAX_STEPS_D = 800
D_STEPS_B = 300
G_STEPS_C = 3


class InvalidMixture(ValueError):
    """p_data cannot be used; `reason` names why (for a translated message), `component` which one (1-based)."""

    def __init__(self, reason: str, component: int | None = None):
        super().__init__(reason + (f" (component {component})" if component else ""))
        self.reason = reason
        self.component = component


@dataclass(frozen=True)
class Mixture:
    """p_data(x) = sum_k w_k N(x; mu_k, sigma_k^2) / sum_k w_k."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        if not self.means:
            raise InvalidMixture("empty")
        if not len(self.means) == len(self.stds) == len(self.weights):
            raise InvalidMixture("lengths")
        for i, (m, s, w) in enumerate(zip(self.means, self.stds, self.weights), start=1):
            if not all(math.isfinite(v) for v in (m, s, w)):
                raise InvalidMixture("not_finite", i)
            if s <= 0:
                raise InvalidMixture("std", i)
            if w < 0:
                raise InvalidMixture("weight_negative", i)
        if sum(self.weights) <= 0:
            raise InvalidMixture("weights_zero")

    @property
    def probabilities(self) -> np.ndarray:
        w = np.asarray(self.weights, float)
        return w / w.sum()

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return theory.mixture_pdf(x, self.means, self.stds, self.weights)

    def distribution(self) -> ToyDistribution:
        """A ToyDistribution sampling x = mu_k + sigma_k * eps, k ~ Categorical(w), eps ~ N(0, 1)."""
        # gan_core.data.toy.gaussian_mixture shares one std between modes; here each has its own.
        means = torch.tensor(self.means, dtype=torch.float32)[:, None]
        stds = torch.tensor(self.stds, dtype=torch.float32)[:, None]
        probs = torch.tensor(self.probabilities, dtype=torch.float32)

        def sample(n: int, g: torch.Generator) -> torch.Tensor:
            k = torch.multinomial(probs, n, replacement=True, generator=g)
            return means[k] + stds[k] * torch.randn(n, 1, generator=g)
        return ToyDistribution("gan1d", 1, sample, modes=means, weights=probs)

    def support(self, n_std: float = 4.5) -> tuple[float, float]:
        """The interval holding all but ~1e-5 of the mass: [min mu_k - 4.5 sigma_k, max mu_k + 4.5 sigma_k]."""
        return (min(m - n_std * s for m, s in zip(self.means, self.stds)),
                max(m + n_std * s for m, s in zip(self.means, self.stds)))


@dataclass(frozen=True)
class Settings:
    loss: str = "nonsaturating"
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    k_d: int = 1              # D steps per G step in Algorithm 1, and per press of "k D-steps"
    batch_size: int = 256
    g_width: int = 32
    d_width: int = 64
    depth: int = 2
    activation: str = "leaky_relu"
    seed: int = 0

    def __post_init__(self):
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(GAN_LOSSES)}, not {self.loss!r}")

    def config(self):
        return load_recipe(None, [
            "name=gan1d", "model.arch=mlp", "model.nz=1", "model.noise=uniform", "model.data_dim=1",
            f"model.activation={self.activation}", f"model.g_depth={self.depth}", f"model.d_depth={self.depth}",
            f"model.g_width={self.g_width}", f"model.d_width={self.d_width}",
            "data.name=toy", "data.toy=gauss1d",  # a valid recipe needs a dataset; Gan1D trains on its own p_data
            f"train.loss={self.loss}", f"train.lr_g={self.lr_g}", f"train.lr_d={self.lr_d}",
            f"train.k_d={self.k_d}", f"train.batch_size={self.batch_size}", f"train.seed={self.seed}"])


@dataclass(frozen=True)
class View:
    """Everything the figure shows, on the grid x (spacing dx)."""

    x: np.ndarray
    dx: float
    p_data: np.ndarray
    p_g: np.ndarray
    d: np.ndarray          # D(x)
    d_star: np.ndarray     # D*(x)
    value: float           # V(G, D)
    criterion: float       # C(G)
    js: float              # JS(p_data || p_g), nats
    z: np.ndarray          # z of the mapping lines, evenly spaced in [-1, 1]
    gz: np.ndarray         # G(z) for those z
    g_steps: int
    d_steps: int

    def d_gap(self, rel: float = 0.05) -> float:
        """mean |D(x) - D*(x)| over the x where p_data + p_g exceeds `rel` of its maximum (off the
        supports D* is arbitrary)."""
        total = self.p_data + self.p_g
        where = total > rel * total.max()
        return float(np.abs(self.d - self.d_star)[where].mean())

    def d_spread(self) -> float:
        """E_p_data |D(x) - 1/2|: how far D is from the equilibrium's 1/2 where the data lie."""
        return float(np.sum(self.p_data * np.abs(self.d - 0.5)) * self.dx)


def silverman_bandwidth(samples: np.ndarray) -> float:
    """h = 0.9 min(std, IQR / 1.34) n^(-1/5)  (Silverman's rule of thumb)."""
    q75, q25 = np.percentile(samples, [75, 25])
    spread = min(float(np.std(samples)), float(q75 - q25) / 1.34)
    return 0.9 * spread * len(samples) ** -0.2


def gaussian_kde(samples: np.ndarray, x: np.ndarray, bandwidth: float) -> np.ndarray:
    """p(x) = 1/(n h) sum_i phi((x - s_i) / h), phi the standard normal density."""
    u = (np.asarray(x, float)[:, None] - np.asarray(samples, float)[None, :]) / bandwidth
    return np.exp(-0.5 * u * u).sum(axis=1) / (len(samples) * bandwidth * math.sqrt(2 * math.pi))


def even_z(n: int) -> torch.Tensor:
    """Midpoints of n equal cells of [-1, 1]: a noise-free stand-in for n draws of z ~ U[-1, 1]."""
    return ((torch.arange(n, dtype=torch.float32) + 0.5) / n * 2 - 1)[:, None]


class Gan1D:
    """One 1D GAN (a Trainer), its step counters, the phase of Figure 1 it is in, and a history
    of V(G, D) and C(G)."""

    def __init__(self, mixture: Mixture, settings: Settings = Settings()):
        self.mixture = mixture
        self.settings = settings
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Back to the initial weights, optimizers, counters and history (the Trainer seeds its init)."""
        with one_thread():
            self.trainer = Trainer(self.settings.config(), device="cpu", data=self.mixture.distribution())
        # D-only steps draw their batches from their own generator, advanced press after press;
        # the trainer's rng(step) would repeat one batch while G's step count stands still.
        self._d_rng = torch.Generator().manual_seed(self.settings.seed * 1_000_003 + 999_983)
        self.d_steps = 0
        self.phase: str | None = None
        self.phase_steps = 0      # steps the last phase operation took
        self.phase_running = False  # (a) or (d) still on its way to its target
        self.before: View | None = None  # the view before phase (c)'s G update
        self.history: list[dict[str, float]] = []
        self._bounds = self._initial_bounds()
        self._view: View | None = None
        self._record()

    @property
    def g_steps(self) -> int:
        return self.trainer.step

    def set_mixture(self, mixture: Mixture) -> None:
        """Swap p_data under the current G and D (they keep training on the new data)."""
        if mixture == self.mixture:
            return
        self.mixture = mixture
        self.trainer.data = mixture.distribution()
        self._bounds = self._initial_bounds()
        self.leave_stepper()
        self._changed()

    def update_settings(self, settings: Settings) -> bool:
        """Apply new settings; loss, learning rates, k and batch size take effect in place, a new
        seed or network shape starts over. Returns True when it started over."""
        if settings == self.settings:
            return False
        in_place = ("loss", "lr_g", "lr_d", "k_d", "batch_size")
        rebuild = replace(settings, **{f: getattr(self.settings, f) for f in in_place}) != self.settings
        self.settings = settings
        if rebuild:
            self.reset()
            return True
        tr, t = self.trainer, self.trainer.cfg.train
        t.loss, t.lr_g, t.lr_d, t.k_d, t.batch_size = (settings.loss, settings.lr_g, settings.lr_d,
                                                     settings.k_d, settings.batch_size)
        tr.loss = get_loss(settings.loss)
        for opt, lr in ((tr.opt_G, settings.lr_g), (tr.opt_D, settings.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
        return False

    # ------------------------------------------------------------------ training (the Trainer's own steps)

    def train_d(self, steps: int | None = None) -> None:
        """`steps` (default k) D-steps with G fixed, each on a fresh minibatch."""
        self.leave_stepper()
        self._train_d(self.settings.k_d if steps is None else steps)

    def train_g(self, steps: int = 1) -> None:
        """G-steps with D fixed."""
        self.leave_stepper()
        self._train_g(steps)

    def algorithm1(self, steps: int = 1) -> None:
        """`steps` iterations of Algorithm 1 (k D-steps, then one G-step) by Trainer.train_step."""
        self.leave_stepper()
        self._algorithm1(steps)

    def leave_stepper(self) -> None:
        """Forget the phase of Figure 1: after steps of one's own the model is in none of them."""
        self.phase, self.before, self.phase_running = None, None, False

    def _train_d(self, steps: int) -> None:
        with one_thread():
            for _ in range(steps):
                self.trainer.d_step(self._d_rng)
                self.d_steps += 1
        self._changed()

    def _train_g(self, steps: int) -> None:
        with one_thread():
            for _ in range(steps):
                # z comes from the trainer's generator for this G step, as in Algorithm 1
                self.trainer.g_step(self.trainer.rng(self.trainer.step))
                self.trainer.step += 1
        self._changed()

    def _algorithm1(self, steps: int) -> None:
        with one_thread():
            for _ in range(steps):
                self.trainer.train_step()
                self.d_steps += self.settings.k_d
        self._changed()

    # ------------------------------------------------------------------ the four phases of Figure 1

    def next_phase(self, chunk: int | None = None) -> str:
        """Start the operation that leads to the next phase (after (d), or outside the stepper: (a)).

        (b) and (c) finish at once. (a) and (d) run Algorithm 1 towards their target; with `chunk`
        only that many steps now, the rest by advance() (so that a page can show them live)."""
        nxt = "a" if self.phase in (None, "d") else PHASES[PHASES.index(self.phase) + 1]
        self.before, self.phase_steps, self.phase_running = None, 0, False
        if nxt == "b":
            self._train_d(D_STEPS_B)
            self.phase_steps = D_STEPS_B
        elif nxt == "c":
            before = self.view()
            self._train_g(G_STEPS_C)
            self.before, self.phase_steps = before, G_STEPS_C
        self.phase = nxt
        if nxt in ("a", "d"):
            self.phase_running = True
            self.advance(chunk or max(MAX_STEPS_A, MAX_STEPS_D))
        return nxt

    def advance(self, steps: int = CHECK_EVERY) -> bool:
        """Up to `steps` more Algorithm 1 steps of phase (a) or (d) until JS(p_data || p_g) is below
        its target (or the phase's step limit is spent); True once the phase is done."""
        if not self.phase_running:
            return True
        target, limit = (NEAR_JS, MAX_STEPS_A) if self.phase == "a" else (EQUILIBRIUM_JS, MAX_STEPS_D)
        done = 0
        while done < steps and self.phase_steps < limit and self.view().js > target:
            n = min(CHECK_EVERY, steps - done, limit - self.phase_steps)
            self._algorithm1(n)
            done += n
            self.phase_steps += n
        self.phase_running = self.phase_steps < limit and self.view().js > target
        return not self.phase_running

    # ------------------------------------------------------------------ what the figure shows

    def _initial_bounds(self) -> tuple[float, float]:
        lo, hi = self.mixture.support()
        return self._cover(lo, hi, self._g_samples())

    def _g_samples(self) -> np.ndarray:
        with one_thread():
            return self.trainer.sample(even_z(KDE_SAMPLES))[:, 0].double().numpy()

    @staticmethod
    def _cover(lo: float, hi: float, samples: np.ndarray) -> tuple[float, float]:
        """[lo, hi] widened to hold every sample with room for its KDE bump, rounded out to 0.5."""
        pad = 4 * max(silverman_bandwidth(samples), 0.05)
        lo, hi = min(lo, float(samples.min()) - pad), max(hi, float(samples.max()) + pad)
        return math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2

    def refresh(self) -> None:
        """Recompute the view after G or D were changed from outside the lab's own steps."""
        self._changed()

    def view(self) -> View:
        if self._view is None:
            self._view = self._compute_view()
        return self._view

    def _compute_view(self) -> View:
        samples = self._g_samples()
        # The grid only grows, so that the axes stand still while G moves about inside them.
        self._bounds = self._cover(*self._bounds, samples)
        x = np.linspace(*self._bounds, GRID_POINTS)
        dx = float(x[1] - x[0])
        # A KDE narrower than two grid cells would fall between the grid points (G collapsed to a point).
        h = max(silverman_bandwidth(samples), 2 * dx)
        p_data, p_g = self.mixture.pdf(x), gaussian_kde(samples, x, h)
        with one_thread(), torch.no_grad():
            logits = self.trainer.D(torch.as_tensor(x, dtype=torch.float32)[:, None]).double()
            z = even_z(MAPPING_LINES)
            gz = self.trainer.sample(z)[:, 0].double().numpy()
        d = torch.sigmoid(logits).numpy()
        # float64 sigmoid is exactly 0 or 1 only past |logit| ~ 37; keep log D finite there too
        d_safe = np.clip(d, 1e-300, 1 - 1e-16)
        return View(x=x, dx=dx, p_data=p_data, p_g=p_g, d=d, d_star=theory.optimal_discriminator(p_data, p_g),
                    value=theory.value(p_data, p_g, d_safe, dx),
                    criterion=theory.virtual_training_criterion(p_data, p_g, dx),
                    js=theory.js_divergence(p_data, p_g, dx), z=z[:, 0].double().numpy(), gz=gz,
                    g_steps=self.g_steps, d_steps=self.d_steps)

    def _changed(self) -> None:
        if not self.trainer.weights_finite():
            raise self.trainer.diverged("the weights are NaN or infinite")
        self._view = None
        self._record()

    def _record(self) -> None:
        v = self.view()
        self.history.append({"g_steps": v.g_steps, "d_steps": v.d_steps, "value": v.value, "criterion": v.criterion})
        del self.history[:-2000]  # a long play session keeps only its recent past
