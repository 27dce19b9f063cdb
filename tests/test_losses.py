"""Each loss against values computed by hand, and the theory it rests on."""
import math

import numpy as np
import pytest
import torch

from gan_core import theory
from gan_core.losses import LOSSES, get_loss, gradient_penalty, r1_penalty

# logits: D(x) = sigmoid(l). Two real and two fake outputs.
REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([-1.0, 0.5])
sig = torch.sigmoid


def test_family_is_complete():
    assert set(LOSSES) == {"minimax", "nonsaturating", "wgan", "wgan-gp", "lsgan", "hinge"}
    with pytest.raises(ValueError, match="choose one of"):
        get_loss("nope")


@pytest.mark.parametrize("name", list(LOSSES))
def test_closed_form_derivatives_equal_autograd(name):
    L = get_loss(name)
    r = torch.tensor([-3.0, -0.5, 0.2, 0.99, 1.5, 4.0], requires_grad=True)
    f = torch.tensor([-2.0, -1.01, -0.3, 0.0, 0.7, 3.0], requires_grad=True)
    dr, df = torch.autograd.grad(L.d_loss(r, f), (r, f))
    gr, gf = L.d_grad(r.detach(), f.detach())
    assert torch.allclose(dr, gr, atol=1e-7) and torch.allclose(df, gf, atol=1e-7)
    (dg,) = torch.autograd.grad(L.g_loss(f), f)
    assert torch.allclose(dg, L.g_grad(f.detach()), atol=1e-7)


def test_minimax_matches_the_paper():
    want_d = -(torch.log(sig(REAL)).mean() + torch.log(1 - sig(FAKE)).mean())
    want_g = torch.log(1 - sig(FAKE)).mean()
    L = get_loss("minimax")
    assert L.d_loss(REAL, FAKE).item() == pytest.approx(want_d.item(), rel=1e-6)
    assert L.g_loss(FAKE).item() == pytest.approx(want_g.item(), rel=1e-6)


def test_nonsaturating_generator():
    L = get_loss("nonsaturating")
    assert L.g_loss(FAKE).item() == pytest.approx(-torch.log(sig(FAKE)).mean().item(), rel=1e-6)
    assert L.d_loss(REAL, FAKE).item() == pytest.approx(get_loss("minimax").d_loss(REAL, FAKE).item())


def test_minimax_saturates_where_nonsaturating_does_not():
    """When D confidently rejects fakes (logit -10), log(1-D) has a tiny gradient; -log D does not."""
    fake = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(get_loss("minimax").g_loss(fake), fake)
    (g_ns,) = torch.autograd.grad(get_loss("nonsaturating").g_loss(fake), fake)
    assert abs(g_mm.item()) < 1e-4
    assert abs(g_ns.item()) > 0.99


def test_minimax_is_finite_at_saturation():
    assert math.isfinite(get_loss("minimax").d_loss(torch.tensor([80.0]), torch.tensor([80.0])).item())


def test_wgan():
    L = get_loss("wgan")
    assert L.critic and not L.gradient_penalty
    assert L.d_loss(REAL, FAKE).item() == pytest.approx(FAKE.mean().item() - REAL.mean().item())
    assert L.g_loss(FAKE).item() == pytest.approx(-FAKE.mean().item())
    assert get_loss("wgan-gp").gradient_penalty


def test_lsgan():
    L = get_loss("lsgan")
    want_d = 0.5 * (((REAL - 1) ** 2).mean() + (FAKE ** 2).mean())
    assert L.d_loss(REAL, FAKE).item() == pytest.approx(want_d.item())
    assert L.g_loss(FAKE).item() == pytest.approx(0.5 * ((FAKE - 1) ** 2).mean().item())


def test_hinge():
    L = get_loss("hinge")
    # relu(1-0)=1, relu(1-2)=0 -> 0.5 ; relu(1-1)=0, relu(1+0.5)=1.5 -> 0.75
    assert L.d_loss(REAL, FAKE).item() == pytest.approx(1.25)
    assert L.g_loss(FAKE).item() == pytest.approx(0.25)


def test_gradient_penalty_of_known_functions():
    x = torch.randn(16, 3)
    y = torch.randn(16, 3)
    w = torch.tensor([3.0, 0.0, 4.0])  # C(x) = w.x has |grad| = 5 everywhere -> (5-1)^2 = 16
    assert gradient_penalty(lambda v: v @ w, x, y).item() == pytest.approx(16.0)
    unit = w / 5  # a 1-Lipschitz linear critic with unit gradient: zero penalty
    assert gradient_penalty(lambda v: v @ unit, x, y).item() == pytest.approx(0.0, abs=1e-10)
    # C(x) = |x|^2 / 2 has grad x_hat; with x = y the interpolate is x itself
    x2 = torch.full((4, 2), 1.0)
    want = (math.sqrt(2) - 1) ** 2
    assert gradient_penalty(lambda v: 0.5 * (v ** 2).sum(1), x2, x2.clone()).item() == pytest.approx(want, rel=1e-6)


def test_gradient_penalty_trains_the_critic():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    gp = gradient_penalty(lambda v: v @ w, torch.randn(8, 2), torch.randn(8, 2))
    (grad,) = torch.autograd.grad(gp, w)
    assert torch.allclose(grad, 2 * (5 - 1) * w.detach() / 5)  # d/dw (|w| - 1)^2


def test_r1_penalty_of_known_functions():
    x = torch.randn(16, 3)
    w = torch.tensor([3.0, 0.0, 4.0])  # D(x) = w.x: grad w everywhere, |w|^2 = 25
    assert r1_penalty(lambda v: v @ w, x).item() == pytest.approx(25.0)
    # D(x) = |x|^2 / 2 has grad x: R1 = E|x|^2
    assert r1_penalty(lambda v: 0.5 * (v ** 2).sum(1), x).item() == pytest.approx((x ** 2).sum(1).mean().item(), rel=1e-6)
    # it trains D: d/dw |w|^2 = 2w
    wg = w.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(r1_penalty(lambda v: v @ wg, x), wg)
    assert torch.allclose(grad, 2 * w)


def test_trained_minimax_discriminator_reaches_d_star():
    """A table discriminator on 5 points, trained on the minimax d_loss with exact expectations,
    converges to D*(x) = p(x) / (p(x) + q(x)) (Proposition 1)."""
    p = torch.tensor([0.4, 0.3, 0.2, 0.1, 0.0])
    q = torch.tensor([0.1, 0.1, 0.2, 0.3, 0.3])
    logits = torch.zeros(5, requires_grad=True)
    opt = torch.optim.LBFGS([logits], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        # E_p[-log D] + E_q[-log(1 - D)], the expectation of the minimax d_loss over the table
        loss = (p * torch.nn.functional.softplus(-logits)).sum() + (q * torch.nn.functional.softplus(logits)).sum()
        loss.backward()
        return loss
    opt.step(closure)
    d_star = theory.optimal_discriminator(p.numpy(), q.numpy())
    assert np.allclose(torch.sigmoid(logits).detach().numpy()[:4], d_star[:4], atol=1e-3)
    assert d_star[4] == 0.0  # no data mass: D* = 0


def test_value_at_d_star_is_minus_log4_plus_2js():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    q = np.array([0.1, 0.2, 0.3, 0.4])
    d = theory.optimal_discriminator(p, q)
    assert theory.value(p, q, d) == pytest.approx(theory.virtual_training_criterion(p, q))
    assert theory.virtual_training_criterion(p, p) == pytest.approx(-math.log(4))
    assert theory.js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(math.log(2))
    assert theory.kl_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == math.inf


@pytest.mark.parametrize("theta", [-1.0, -0.3, 0.01, 0.7])
def test_parallel_lines(theta):
    d = theory.parallel_lines(theta)
    assert d["js"] == pytest.approx(math.log(2)) and d["tv"] == 1.0 and d["w1"] == pytest.approx(abs(theta))
    assert d["kl_pq"] == math.inf and d["kl_qp"] == math.inf
    assert theory.parallel_lines(0.0) == {"js": 0.0, "kl_pq": 0.0, "kl_qp": 0.0, "tv": 0.0, "w1": 0.0}


def test_kl_directions_cover_or_seek_modes():
    x = np.linspace(-8, 8, 1601)
    p = theory.mixture_pdf(x, [-3.0, 3.0], [0.7, 0.7])
    m_cover, s_cover, _ = theory.fit_gaussian(x, p, "kl_pq")
    m_seek, s_seek, v_seek = theory.fit_gaussian(x, p, "kl_qp")
    # KL(p||q) is minimised by matching moments: mean 0, variance 9 + 0.49
    assert m_cover == pytest.approx(0.0, abs=0.05) and s_cover == pytest.approx(math.sqrt(9.49), rel=0.02)
    # KL(q||p) settles on one mode with about its width
    assert abs(m_seek) == pytest.approx(3.0, abs=0.1) and s_seek == pytest.approx(0.7, rel=0.1)
    assert v_seek == pytest.approx(math.log(2), abs=0.01)  # q = one mode: KL(q||p) = log(1 / (1/2))


def test_perceptual_loss_is_zero_for_equal_pictures_and_names_its_weights(tmp_path, monkeypatch):
    from gan_core.losses import PerceptualLoss
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))      # an empty torch cache
    loss = PerceptualLoss("relu1_2")
    assert "random weights" in loss.source and str(tmp_path) in loss.source
    x = torch.rand(2, 3, 16, 16)
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, x.flip(-1))) > 0.0
    again = PerceptualLoss("relu1_2")                                      # the fallback is the same every time
    assert float(again(x, x.flip(-1))) == pytest.approx(float(loss(x, x.flip(-1))))


def test_perceptual_loss_uses_torchvision_weights_when_cached(tmp_path, monkeypatch):
    from torchvision.models.vgg import cfgs, make_layers

    from gan_core.losses import VGG19_FILE, PerceptualLoss
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    feats = make_layers(cfgs["E"])
    torch.save({f"features.{k}": torch.full_like(v, 0.01) for k, v in feats.state_dict().items()},
               tmp_path / "checkpoints" / VGG19_FILE)
    loss = PerceptualLoss("relu1_2")
    assert loss.source == "VGG19, torchvision ImageNet weights"
    assert float(loss.features[0].weight.mean()) == pytest.approx(0.01)
