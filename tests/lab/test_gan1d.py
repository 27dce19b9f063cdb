"""The 1D GAN lab: densities on the grid, V and C(G) against their closed forms, the phases of
Figure 1, the z -> x lines, reset."""
import math
import threading

import numpy as np
import pytest
import torch
from torch import nn

from gan_core import theory
from gan_core.lab.gan1d import (D_STEPS_B, EQUILIBRIUM_JS, G_STEPS_C, Gan1D, InvalidMixture, Mixture, Settings,
                                even_z, gaussian_kde, silverman_bandwidth)
from gan_core.lab import one_thread
from gan_core.errors import TrainingDiverged

GAUSS = Mixture((1.5,), (0.5,), (1.0,))
MINUS_LOG_4 = -math.log(4.0)


class InverseCdf(nn.Module):
    """G(z) = mu + sigma * Phi^-1((z + 1) / 2) = mu + sigma * sqrt(2) erfinv(z): pushes U[-1, 1] onto N(mu, sigma^2)."""

    def __init__(self, mu: float, sigma: float):
        super().__init__()
        self.mu, self.sigma = mu, sigma

    def forward(self, z, y=None):
        return self.mu + self.sigma * math.sqrt(2) * torch.erfinv(z)


class HalfEverywhere(nn.Module):
    """D(x) = sigmoid(0) = 1/2."""

    def forward(self, x, y=None):
        return torch.zeros(len(x))


def integral(p: np.ndarray, dx: float) -> float:
    return float(p.sum() * dx)


# ------------------------------------------------------------------ densities and closed forms


def test_kde_integrates_to_one_and_matches_the_smoothed_normal():
    """The KDE of N(0, 1) quantiles is N(0, 1) convolved with N(0, h^2), i.e. N(0, 1 + h^2)."""
    samples = np.sqrt(2) * torch.erfinv(even_z(2000)[:, 0].double()).numpy()
    x = np.linspace(-6, 6, 601)
    h = silverman_bandwidth(samples)
    p = gaussian_kde(samples, x, h)
    assert integral(p, x[1] - x[0]) == pytest.approx(1.0, abs=1e-4)
    assert np.abs(p - theory.gaussian_pdf(x, 0.0, math.sqrt(1 + h * h))).max() < 2e-3
    assert h == pytest.approx(0.9 * 2000 ** -0.2, rel=0.05)  # Silverman for a unit normal


def test_view_densities_integrate_to_one_and_d_is_the_sigmoid_of_the_logit():
    lab = Gan1D(Mixture((-1.5, 1.5), (0.4, 0.6), (1.0, 3.0)), Settings(seed=3))
    lab.algorithm1(20)
    v = lab.view()
    assert integral(v.p_data, v.dx) == pytest.approx(1.0, abs=1e-4)
    assert integral(v.p_g, v.dx) == pytest.approx(1.0, abs=1e-3)
    assert np.allclose(v.p_data, 0.25 * theory.gaussian_pdf(v.x, -1.5, 0.4) + 0.75 * theory.gaussian_pdf(v.x, 1.5, 0.6))
    with torch.no_grad():
        logits = lab.trainer.D(torch.tensor(v.x, dtype=torch.float32)[:, None])
    assert np.allclose(v.d, torch.sigmoid(logits).numpy(), atol=1e-6)


@pytest.mark.parametrize("steps", [0, 30])
def test_criterion_is_the_value_against_d_star(steps):
    """C(G) = -log 4 + 2 JS  equals  V(G, D*) = sum p log(p/(p+q)) + q log(q/(p+q)) dx on the grid (Theorem 1).

    The logs are taken of the densities, not of D* itself: where p_g/p_data < 1e-16, D* rounds to
    1 in float64 and log(1 - D*) would be -inf although q log(q/(p+q)) is ~0."""
    lab = Gan1D(GAUSS, Settings(seed=1))
    lab.algorithm1(steps)
    v = lab.view()
    p, q = v.p_data, v.p_g
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (np.where(p > 0, p * (np.log(p) - np.log(p + q)), 0.0)
                 + np.where(q > 0, q * (np.log(q) - np.log(p + q)), 0.0))
    assert v.criterion == pytest.approx(float(terms.sum() * v.dx), abs=2e-3)
    assert v.criterion == pytest.approx(MINUS_LOG_4 + 2 * v.js, abs=1e-12)
    assert v.value <= v.criterion + 2e-3  # D* maximises V for this G (Proposition 1)


def test_generator_equal_to_the_data_gives_minus_log_4():
    lab = Gan1D(GAUSS)
    lab.trainer.G = InverseCdf(1.5, 0.5)
    lab.trainer.D = HalfEverywhere()
    lab.refresh()
    v = lab.view()
    assert np.abs(v.p_g - v.p_data).max() < 0.02  # the KDE's smoothing (h ~ 0.11) is all that differs
    assert v.js < 1e-3
    assert v.criterion == pytest.approx(MINUS_LOG_4, abs=2e-3)
    assert v.value == pytest.approx(MINUS_LOG_4, abs=1e-3)  # V(G, 1/2) = -log 2 - log 2
    on_data = v.p_data > 0.01
    assert np.abs(v.d_star[on_data] - 0.5).max() < 0.05


def test_disjoint_distributions_give_js_log_2():
    lab = Gan1D(Mixture((4.0,), (0.2,), (1.0,)))
    lab.trainer.G = InverseCdf(-4.0, 0.2)
    lab.refresh()
    v = lab.view()
    assert v.js == pytest.approx(math.log(2), abs=1e-3)
    assert v.criterion == pytest.approx(0.0, abs=2e-3)


# ------------------------------------------------------------------ the mapping lines


def test_mapping_lines_are_the_generators_outputs():
    lab = Gan1D(GAUSS, Settings(seed=2))
    lab.algorithm1(5)
    v = lab.view()
    assert v.z.min() > -1 and v.z.max() < 1 and np.allclose(np.diff(v.z), v.z[1] - v.z[0])
    with torch.no_grad():
        gz = lab.trainer.G(torch.tensor(v.z, dtype=torch.float32)[:, None])[:, 0].numpy()
    assert np.allclose(v.gz, gz, atol=1e-6)
    assert v.x[0] <= v.gz.min() and v.gz.max() <= v.x[-1]


# ------------------------------------------------------------------ steps and counters


def test_each_action_moves_its_own_counter_and_network():
    lab = Gan1D(GAUSS, Settings(k_d=3))
    g0 = [p.clone() for p in lab.trainer.G.parameters()]
    d0 = [p.clone() for p in lab.trainer.D.parameters()]
    lab.train_d()
    assert (lab.g_steps, lab.d_steps) == (0, 3)
    assert all(torch.equal(a, b) for a, b in zip(g0, lab.trainer.G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d0, lab.trainer.D.parameters()))
    d1 = [p.clone() for p in lab.trainer.D.parameters()]
    lab.train_g()
    assert (lab.g_steps, lab.d_steps) == (1, 3)
    assert all(torch.equal(a, b) for a, b in zip(d1, lab.trainer.D.parameters()))
    lab.algorithm1(2)
    assert (lab.g_steps, lab.d_steps) == (3, 9)
    assert [(h["g_steps"], h["d_steps"]) for h in lab.history] == [(0, 0), (0, 3), (1, 3), (3, 9)]


def test_repeated_d_steps_draw_fresh_batches():
    lab = Gan1D(GAUSS)
    seen = []
    real_batch = lab.trainer.real_batch

    def recording(g):
        x, y = real_batch(g)
        seen.append(x.clone())
        return x, y
    lab.trainer.real_batch = recording
    lab.train_d(1)
    lab.train_d(1)
    assert len(seen) == 2 and not torch.equal(seen[0], seen[1])


def test_reset_restores_the_initial_state():
    lab = Gan1D(GAUSS, Settings(seed=4))
    first = lab.view()
    weights = {k: v.clone() for k, v in {**lab.trainer.G.state_dict(), **lab.trainer.D.state_dict()}.items()}
    lab.algorithm1(3)
    lab.train_d(2)
    after = lab.view()
    lab.next_phase()
    lab.reset()
    v = lab.view()
    assert (lab.g_steps, lab.d_steps, lab.phase, len(lab.history)) == (0, 0, None, 1)
    now = {**lab.trainer.G.state_dict(), **lab.trainer.D.state_dict()}
    assert all(torch.equal(weights[k], now[k]) for k in weights)
    for name in ("x", "p_g", "d", "gz"):
        assert np.array_equal(getattr(first, name), getattr(v, name)), name
    # the same presses after a reset give the same model: the batch generators restart too
    lab.algorithm1(3)
    lab.train_d(2)
    assert np.array_equal(lab.view().d, after.d) and np.array_equal(lab.view().p_g, after.p_g)


def test_settings_apply_in_place_or_start_over():
    lab = Gan1D(GAUSS)
    lab.algorithm1(2)
    assert lab.update_settings(Settings(lr_d=5e-4, k_d=2, loss="minimax")) is False
    assert lab.g_steps == 2
    assert [g["lr"] for g in lab.trainer.opt_D.param_groups] == [5e-4]
    assert lab.trainer.loss.name == "minimax" and lab.trainer.cfg.train.k_d == 2
    lab.train_d()
    assert lab.d_steps == 4
    assert lab.update_settings(Settings(lr_d=5e-4, k_d=2, loss="minimax", seed=9)) is True
    assert (lab.g_steps, lab.d_steps) == (0, 0)


def test_new_data_keeps_the_networks():
    lab = Gan1D(GAUSS)
    lab.algorithm1(2)
    gz = lab.view().gz
    lab.set_mixture(Mixture((-2.0,), (0.3,), (1.0,)))
    v = lab.view()
    assert np.array_equal(v.gz, gz) and lab.g_steps == 2
    assert v.x[v.p_data.argmax()] == pytest.approx(-2.0, abs=v.dx)
    assert v.x[0] <= -2.0 - 4 * 0.3


def test_nan_weights_are_reported_as_divergence():
    lab = Gan1D(GAUSS)
    with torch.no_grad():
        next(lab.trainer.D.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged):
        lab.train_g()


# ------------------------------------------------------------------ the four phases of Figure 1


@pytest.fixture(scope="module")
def phases():
    """One model stepped through (a)-(d), with the view after every phase."""
    lab = Gan1D(GAUSS)
    views = {}
    for expected in "abcd":
        steps = (lab.g_steps, lab.d_steps)
        assert lab.next_phase() == expected == lab.phase
        views[expected] = (lab.view(), steps, lab.phase_steps)
    return lab, views


def test_phase_a_brings_p_g_near_p_data(phases):
    _, views = phases
    v, before, steps = views["a"]
    assert 0 < steps and v.g_steps == steps
    assert v.js <= 0.15


def test_phase_b_trains_d_towards_d_star_with_g_fixed(phases):
    _, views = phases
    a, (b, (g_before, d_before), steps) = views["a"][0], views["b"]
    assert steps == D_STEPS_B and b.d_steps == d_before + D_STEPS_B and b.g_steps == g_before
    assert np.array_equal(a.p_g, b.p_g)
    support = (b.p_data + b.p_g) > 0.05 * (b.p_data + b.p_g).max()
    gap = np.abs(b.d - b.d_star)[support].mean()
    assert gap < 0.1
    assert gap < np.abs(a.d - a.d_star)[support].mean()
    assert b.value > a.value and b.value <= b.criterion + 2e-3  # V climbs towards C(G)


def test_phase_c_moves_g_to_where_d_says_data(phases):
    lab, views = phases
    b, (c, (g_before, d_before), steps) = views["b"][0], views["c"]
    assert steps == G_STEPS_C and c.g_steps == g_before + G_STEPS_C and c.d_steps == d_before
    assert np.array_equal(b.d, c.d)  # D held fixed
    # G's step raised E_z[D(G(z))] under that fixed D
    assert np.interp(c.gz, c.x, c.d).mean() > np.interp(b.gz, b.x, b.d).mean()


def test_phase_d_reaches_equilibrium(phases):
    lab, views = phases
    d = views["d"][0]
    assert d.js <= EQUILIBRIUM_JS
    assert d.criterion == pytest.approx(MINUS_LOG_4, abs=2 * EQUILIBRIUM_JS)
    assert d.d_spread() < 0.1  # D ~ 1/2 where the data lie
    assert lab.next_phase() == "a" and lab.phase_steps == 0  # already near: (a) has nothing to do


def test_phases_run_in_chunks_end_where_they_would_at_once():
    at_once, live = Gan1D(GAUSS), Gan1D(GAUSS)
    at_once.next_phase()
    live.next_phase(chunk=25)
    frames = 0
    while not live.advance(25):
        frames += 1
    assert frames > 0 and not at_once.phase_running
    assert live.phase_steps == at_once.phase_steps
    assert np.array_equal(live.view().p_g, at_once.view().p_g) and np.array_equal(live.view().d, at_once.view().d)


# ------------------------------------------------------------------ p_data


def test_mixture_samples_follow_the_closed_form_moments():
    mix = Mixture((-1.0, 2.0), (0.5, 0.25), (1.0, 3.0))
    x = mix.distribution().sample(40_000, torch.Generator().manual_seed(0))[:, 0].double()
    w = np.array([0.25, 0.75])
    mean = float(w @ np.array([-1.0, 2.0]))
    var = float(w @ (np.array([0.5, 0.25]) ** 2 + np.array([-1.0, 2.0]) ** 2)) - mean ** 2
    assert float(x.mean()) == pytest.approx(mean, abs=0.02)
    assert float(x.var()) == pytest.approx(var, rel=0.02)


@pytest.mark.parametrize("means,stds,weights,reason,component", [
    ((0.0, 1.0), (0.5, 0.0), (1.0, 1.0), "std", 2),
    ((0.0,), (-1.0,), (1.0,), "std", 1),
    ((0.0, 1.0), (0.5, 0.5), (0.0, 0.0), "weights_zero", None),
    ((0.0, 1.0), (0.5, 0.5), (1.0, -1.0), "weight_negative", 2),
    ((float("nan"),), (0.5,), (1.0,), "not_finite", 1),
    ((), (), (), "empty", None),
    ((0.0, 1.0), (0.5,), (1.0, 1.0), "lengths", None),
])
def test_invalid_mixtures_name_the_problem(means, stds, weights, reason, component):
    with pytest.raises(InvalidMixture) as err:
        Mixture(means, stds, weights)
    assert (err.value.reason, err.value.component) == (reason, component)


def test_only_the_probability_losses_are_offered():
    with pytest.raises(ValueError, match="loss"):
        Settings(loss="wgan")


def test_one_thread_restores_torch_threads_after_overlapping_sessions():
    """Session 1 enters one_thread(), session 2 starts (inheriting its one thread) and enters too,
    session 1 leaves first: both ran on one thread, and threads started afterwards get the
    count torch had before, not the 1 that session 2 found when it came in."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    inside = {}
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with one_thread():
            inside["first"] = torch.get_num_threads()
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        with one_thread():
            inside["second"] = torch.get_num_threads()
            second_in.set()
            first_out.wait(10)

    def count_in_a_new_thread() -> int:
        seen = []
        t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        t.start()
        t.join(10)
        return seen[0]
    try:
        one = threading.Thread(target=first)
        one.start()
        first_in.wait(10)
        two = threading.Thread(target=second)
        two.start()
        one.join(10)
        two.join(10)
        assert inside == {"first": 1, "second": 1}
        assert count_in_a_new_thread() == 2
    finally:
        torch.set_num_threads(before)
