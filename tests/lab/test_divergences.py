"""The Divergences lab: the generator's gradient from a trained D and critic on the parallel
lines, and Gaussian fits to two modes, checked against the closed forms."""
import math

import numpy as np
import pytest
import torch

from gan_core import theory
from gan_core.lab.divergences import (GradientSettings, ParallelLinesGradients, StackedMLP, fit_gaussians,
                                      parallel_lines_curves)
from gan_core.nets.mlp import mlp

LOG2 = math.log(2)


def trained(**settings) -> ParallelLinesGradients:
    lab = ParallelLinesGradients(GradientSettings(**settings))
    lab.train(lab.settings.steps)
    return lab


@pytest.fixture(scope="module")
def default_run():
    """The page's default training (300 steps, minimax GAN, critic with gradient penalty) on
    theta in {-1, -0.5, 0, 0.5, 1}."""
    return trained(n_thetas=5)


def test_minimax_gradient_vanishes_while_the_critic_gives_dw1_dtheta(default_run):
    lab = default_run
    assert lab.done and lab.step == 300
    gan, wgan = lab.generator_gradients()
    at = {float(th): i for i, th in enumerate(lab.history.thetas)}
    for theta in (-1.0, -0.5, 0.5, 1.0):
        # the saturated discriminator leaves (almost) no slope for the generator ...
        assert abs(gan[at[theta]]) < 1e-2, (theta, gan)
        # ... while the critic's slope is dW1/dtheta = sign(theta): descending it moves theta to 0
        assert wgan[at[theta]] == pytest.approx(math.copysign(1.0, theta), abs=0.1), (theta, wgan)
    # where the lines coincide D can only say 1/2 and gives no slope; the two-sided penalty
    # still wants the critic's slope to be 1 in some direction, so its x-part is anywhere in [-1, 1]
    assert abs(gan[at[0.0]]) < 0.05 and abs(wgan[at[0.0]]) < 1.1


def test_the_gan_gradient_shrinks_as_d_trains_and_the_losses_reach_their_limits(default_run):
    h = default_run.history
    assert h.read_at == list(range(0, 301, 10))
    i = h.nearest(0.5)
    assert h.thetas[i] == 0.5
    early = abs(h.gan_grad[h.read_at.index(50)][i])
    assert early > 100 * abs(h.gan_grad[-1][i])
    assert np.allclose(np.abs(h.wgan_grad[-1][[0, 1, 3, 4]]), 1.0, atol=0.1)
    # L_D -> log 4 - 2 JS = 0 for disjoint lines; L_D = log 4 where they coincide (D* = 1/2)
    assert np.all(h.d_loss[-1][[0, 1, 3, 4]] < 0.05)
    assert h.d_loss[-1][2] == pytest.approx(math.log(4), abs=0.02)
    # -L_C estimates W1 = |theta| (slightly above: the penalty lets the slope exceed 1 a little)
    assert np.allclose(-h.critic_loss[-1], np.abs(h.thetas), atol=0.08)


def test_nonsaturating_gradient_grows_and_a_clipped_critic_stays_flat():
    lab = trained(n_thetas=5, steps=150, gan_loss="nonsaturating", lipschitz="clip", clip_value=0.05)
    h = lab.history
    off_zero = [0, 1, 3, 4]
    # -log D does not vanish: its slope grows with D's confidence, not with the distance
    assert np.all(np.abs(h.gan_grad[-1][off_zero]) > 1.0)
    assert np.all(np.abs(h.gan_grad[-1][off_zero]) > 2 * np.abs(h.gan_grad[h.read_at.index(50)][off_zero]))
    # weight clipping keeps every critic weight in [-c, c] ...
    assert all(p.abs().max() <= 0.05 + 1e-7 for p in lab.critic.parameters())
    # ... and gives the same slope K * sign(theta) at every theta != 0, with K far below 1 for c = 0.05
    wgan = h.wgan_grad[-1]
    assert np.all(np.sign(wgan[off_zero]) == np.sign(h.thetas[off_zero]))
    k = np.abs(wgan[off_zero])
    assert k.max() < 3 * k.min() and k.max() < 0.5


def test_chunked_training_gives_the_same_run_and_a_seed_fixes_it():
    settings = dict(n_thetas=3, steps=20, record_every=5)
    whole = trained(**settings)
    chunked = ParallelLinesGradients(GradientSettings(**settings))
    chunked.train(7)
    chunked.train(8)
    while not chunked.done:
        chunked.train_for(0.0)  # at least one step per call
    assert chunked.step == 20 and chunked.history.read_at == [0, 5, 10, 15, 20]
    for a, b in zip(whole.history.wgan_grad + whole.history.d_loss, chunked.history.wgan_grad + chunked.history.d_loss):
        assert np.array_equal(a, b)
    other = trained(**settings, seed=1)
    assert not np.array_equal(other.history.d_loss[-1], whole.history.d_loss[-1])


def test_stacked_mlp_is_independent_copies_of_the_mlp():
    stack = StackedMLP(3, 2, depth=2, width=8, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 5, 2)
    out = stack(x)
    assert out.shape == (3, 5)
    for t in range(3):
        single = mlp(2, 1, 2, 8, "relu")
        linears = [m for m in single if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for layer, w, b in zip(linears, stack.weights, stack.biases):
                layer.weight.copy_(w[t])
                layer.bias.copy_(b[t, 0])
        assert torch.allclose(single(x[t]).squeeze(-1), out[t], atol=1e-6)
    # a loss on copy 0 only reaches copy 0's weights
    stack(x)[0].sum().backward()
    assert all(p.grad[1:].abs().max() == 0 and p.grad[0].abs().max() > 0 for p in stack.parameters())


def test_settings_are_checked():
    for bad in (dict(n_thetas=1), dict(steps=0), dict(gan_loss="hinge"), dict(lipschitz="spectral"),
                dict(clip_value=0.0)):
        with pytest.raises(ValueError):
            GradientSettings(**bad)


def test_parallel_lines_curves_are_the_closed_forms():
    curves = parallel_lines_curves(400)
    theta = curves["theta"]
    assert len(theta) == 400 and theta[0] == -1.0 and theta[-1] == 1.0 and not np.any(theta == 0)
    assert np.allclose(curves["js"], LOG2) and np.all(curves["tv"] == 1.0)
    assert np.all(np.isinf(curves["kl_pq"])) and np.all(np.isinf(curves["kl_qp"]))
    assert np.allclose(curves["w1"], np.abs(theta))


def test_fits_cover_or_seek_the_modes_as_the_theory_says():
    sep, left, right = 6.0, 0.7, 1.0
    result = fit_gaussians(sep, left, right)
    x, p = result.x, result.p
    assert np.sum(p) * (x[1] - x[0]) == pytest.approx(1.0, abs=1e-6)
    cover, seek = result.fits["kl_pq"], result.fits["kl_qp"]
    # KL(p||q) is minimised by moment matching: mean 0, variance = mean of (std_i^2 + m_i^2)
    assert cover.mean == pytest.approx(0.0, abs=0.01)
    assert cover.std == pytest.approx(math.sqrt(0.5 * (left**2 + right**2) + (sep / 2) ** 2), rel=0.005)
    # KL(q||p) sits on one mode with that mode's width; KL(q||p) = -log 1/2 there
    width = right if seek.mean > 0 else left
    assert abs(seek.mean) == pytest.approx(sep / 2, abs=0.05) and seek.std == pytest.approx(width, rel=0.03)
    assert seek.value == pytest.approx(LOG2, abs=0.005)
    # each value is its divergence at the fit
    q = result.density("kl_pq")
    assert cover.value == pytest.approx(theory.kl_divergence(p, q, x[1] - x[0]))


def test_js_fit_settles_on_a_mode_when_they_are_far_apart():
    result = fit_gaussians(8.0, 0.5, 0.5)
    js = result.fits["js"]
    # q = one mode of p = (q + r)/2 with r disjoint: JS = 1/2 (1/2 log 2/3 + 1/2 log 2) + 1/2 log 4/3
    on_a_mode = 0.5 * (0.5 * math.log(2 / 3) + 0.5 * LOG2) + 0.5 * math.log(4 / 3)
    assert abs(js.mean) == pytest.approx(4.0, abs=0.05) and js.std == pytest.approx(0.5, rel=0.05)
    assert js.value == pytest.approx(on_a_mode, abs=0.002) and js.value <= on_a_mode + 1e-9
    # the covering Gaussian is worse for JS here
    assert js.value < 0.3


def test_one_mode_fits_exactly():
    result = fit_gaussians(0.0, 0.7, 0.7)
    for fit in result.fits.values():
        assert fit.mean == pytest.approx(0.0, abs=1e-3) and fit.std == pytest.approx(0.7, rel=1e-3)
        assert fit.value == pytest.approx(0.0, abs=1e-6)
