"""The GAN loss family as named (d_loss, g_loss) pairs.

Every loss takes the raw discriminator outputs (logits, or critic scores for the
Wasserstein family) and returns a scalar to *minimise*. Writing D(x) = sigmoid(logit):

    minimax        d: -[log D(x) + log(1 - D(G(z)))]    g:  log(1 - D(G(z)))     (Goodfellow 2014, saturating)
    nonsaturating  d: same as minimax                   g: -log D(G(z))          (the paper's practical fix)
    wgan           d: E[C(G(z))] - E[C(x)]              g: -E[C(G(z))]           (Arjovsky 2017; clipping is the trainer's)
    wgan-gp        wgan + lambda * E[(||grad C(x_hat)||_2 - 1)^2]                 (Gulrajani 2017)
    lsgan          d: 1/2 (D(x)-1)^2 + 1/2 D(G(z))^2    g: 1/2 (D(G(z))-1)^2     (Mao 2017, a-b-c = 0-1-1)
    hinge          d: relu(1 - D(x)) + relu(1 + D(G(z)))  g: -D(G(z))             (Lim & Ye 2017)

log D = -softplus(-logit) and log(1 - D) = -softplus(logit), which keeps the
minimax losses finite where the sigmoid saturates.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.vgg import cfgs, make_layers


@dataclass(frozen=True)
class GANLoss:
    """A named (d_loss, g_loss) pair.

    d_loss(real_out, fake_out) and g_loss(fake_out) return scalars to minimise; d_grad and g_grad
    are their derivatives with respect to the outputs, in closed form, for loops that do their own
    backward pass (the toy lab; tests hold them equal to autograd's).
    `critic` marks losses whose D output is an unbounded score, not a logit.
    `gradient_penalty` marks losses the trainer must add the WGAN-GP term to.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    d_grad: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
    g_grad: Callable[[Tensor], Tensor]
    critic: bool = False
    gradient_penalty: bool = False
    summary: str = ""


def _minimax_d(real: Tensor, fake: Tensor) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))] averaged over the batch."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _minimax_g(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))): saturates (vanishing gradient) when D rejects the fakes confidently."""
    return -F.softplus(fake).mean()


def _nonsaturating_g(fake: Tensor) -> Tensor:
    """-log D(G(z)): same fixed point as minimax, strong gradient early in training."""
    return F.softplus(-fake).mean()


def _wgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """E[C(G(z))] - E[C(x)]: minus the critic's estimate of W1 (Kantorovich-Rubinstein dual)."""
    return fake.mean() - real.mean()


def _wgan_g(fake: Tensor) -> Tensor:
    """-E[C(G(z))]."""
    return -fake.mean()


def _lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())


def _lsgan_g(fake: Tensor) -> Tensor:
    """1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * (fake - 1).pow(2).mean()


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


# d/d(out) of the batch means above (n = batch size): sigmoid'(x) terms come from d softplus(x) = sigmoid(x)
def _minimax_d_grad(r: Tensor, f: Tensor) -> tuple[Tensor, Tensor]:
    return -torch.sigmoid(-r) / r.numel(), torch.sigmoid(f) / f.numel()


def _minimax_g_grad(f: Tensor) -> Tensor:
    return -torch.sigmoid(f) / f.numel()


def _nonsaturating_g_grad(f: Tensor) -> Tensor:
    return -torch.sigmoid(-f) / f.numel()


def _wgan_d_grad(r: Tensor, f: Tensor) -> tuple[Tensor, Tensor]:
    return torch.full_like(r, -1 / r.numel()), torch.full_like(f, 1 / f.numel())


def _wgan_g_grad(f: Tensor) -> Tensor:
    return torch.full_like(f, -1 / f.numel())


def _lsgan_d_grad(r: Tensor, f: Tensor) -> tuple[Tensor, Tensor]:
    return (r - 1) / r.numel(), f / f.numel()


def _lsgan_g_grad(f: Tensor) -> Tensor:
    return (f - 1) / f.numel()


def _hinge_d_grad(r: Tensor, f: Tensor) -> tuple[Tensor, Tensor]:
    return -(r < 1).to(r.dtype) / r.numel(), (f > -1).to(f.dtype) / f.numel()


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", _minimax_d, _minimax_g, _minimax_d_grad, _minimax_g_grad,
                       summary="original saturating game: G minimises log(1 - D(G(z)))"),
    "nonsaturating": GANLoss("nonsaturating", _minimax_d, _nonsaturating_g, _minimax_d_grad, _nonsaturating_g_grad,
                             summary="G maximises log D(G(z)) instead; same optimum, useful early gradients"),
    "wgan": GANLoss("wgan", _wgan_d, _wgan_g, _wgan_d_grad, _wgan_g_grad, critic=True,
                    summary="Wasserstein critic; Lipschitz by weight clipping"),
    "wgan-gp": GANLoss("wgan-gp", _wgan_d, _wgan_g, _wgan_d_grad, _wgan_g_grad, critic=True, gradient_penalty=True,
                       summary="Wasserstein critic; Lipschitz by a gradient penalty"),
    "lsgan": GANLoss("lsgan", _lsgan_d, _lsgan_g, _lsgan_d_grad, _lsgan_g_grad,
                     summary="least squares (Pearson chi^2 divergence)"),
    "hinge": GANLoss("hinge", _hinge_d, _wgan_g, _hinge_d_grad, _wgan_g_grad, summary="hinge loss on a margin of 1"),
}


def get_loss(name: str) -> GANLoss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}") from None


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None, eps: Tensor | None = None) -> Tensor:
    """E[(||grad_x C(x_hat)||_2 - 1)^2] at x_hat = eps*x + (1 - eps)*G(z), eps ~ U[0, 1] per sample.

    `critic` is any callable mapping a batch to scores (close over labels for a
    conditional critic). The graph is kept so the penalty trains the critic. `eps` (one per
    sample) may be given, else it is drawn from `generator`. A critic that scores packs of
    consecutive samples (PacGAN) gets the norm of the gradient with respect to each whole pack.
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    if eps is None:
        eps = torch.rand(eps_shape, generator=generator)  # CPU draw: same on every device
    eps = eps.reshape(eps_shape).to(real.device, real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.reshape(scores.numel(), -1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder, Geiger & Nowozin 2018): E_x~p_data[ ||grad_x D(x)||^2 ], the squared gradient norm of
    D's logit on real data only. Added as (gamma / 2) * R1, it pulls D towards zero gradient on the data,
    which makes the non-saturating game locally convergent where unregularised GANs circle. The
    graph is kept so the penalty trains D; per-sample, so not for batch-norm discriminators."""
    x = real.detach().requires_grad_(True)
    scores = critic(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.reshape(x.shape[0], -1).pow(2).sum(1).mean()


# ---------------------------------------------------------------- image-to-image content losses

VGG19_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_4": 17, "relu4_4": 26, "relu5_4": 35}
VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's VGG19_Weights.IMAGENET1K_V1


def cycle_loss(x: Tensor, reconstruction: Tensor) -> Tensor:
    """CycleGAN's cycle-consistency term for one direction: |G_YX(G_XY(x)) - x|_1, the mean absolute
    error. Both directions together, weighted by lambda_cyc:
        lambda_cyc (|G_YX(G_XY(x)) - x|_1 + |G_XY(G_YX(y)) - y|_1)."""
    return (reconstruction - x).abs().mean()


def identity_loss(y: Tensor, mapped: Tensor) -> Tensor:
    """CycleGAN's identity term for one generator: |G_XY(y) - y|_1, a picture already of the target
    domain should pass unchanged. Weighted by lambda_id (0.5 lambda_cyc):
        lambda_id (|G_XY(y) - y|_1 + |G_YX(x) - x|_1)."""
    return (mapped - y).abs().mean()


def vgg19_weights_path():
    """Where torchvision keeps VGG19's ImageNet weights once downloaded (nothing is fetched here)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


class PerceptualLoss(torch.nn.Module):
    """SRGAN's content loss: mean squared distance of VGG19 features, MSE(phi(x), phi(y)), with
    phi = VGG19 up to `layer` on ImageNet-normalised [0, 1] pictures (Ledig et al. 2017, eq. 5).

    With torchvision's ImageNet weights in the local torch cache those are used. Otherwise the same
    network with random weights (He init, seed 0) stands in, a fallback `source` names: random
    convolutional features still compare local structure at several scales (He, Wang & Hopcroft
    2016), but they are not the features the paper meant."""

    def __init__(self, layer: str = "relu2_2"):
        super().__init__()
        features = make_layers(cfgs["E"])  # VGG19's convolutional part only (no 100M-weight classifier)
        path = vgg19_weights_path()
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=True)
            features.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
            self.source = "VGG19, torchvision ImageNet weights"
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                for m in features:
                    if isinstance(m, torch.nn.Conv2d):
                        torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                        torch.nn.init.zeros_(m.bias)
            # the folder is named for whoever trains (where to put the file); pages show this in words
            self.source = (f"VGG19 with random weights (seed 0), because torchvision's ImageNet weights were not "
                           f"installed ({VGG19_FILE} is not in {path.parent})")
        self.features = features[: VGG19_LAYERS[layer] + 1].eval().requires_grad_(False)
        self.layer = layer
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        phi = lambda v: self.features((v - self.mean) / self.std)  # noqa: E731
        return F.mse_loss(phi(x), phi(y).detach())
