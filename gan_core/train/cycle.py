"""CycleGAN on the one training loop (Zhu et al. 2017): translation without pairs.

G_XY maps A to B and G_YX maps B back; D_Y judges whether a picture looks like B, D_X like A.
Each iteration (Trainer.train_step: D's step, then G's) minimises

    L_G = L_GAN(G_XY, D_Y) + L_GAN(G_YX, D_X)
          + lambda_cyc (|G_YX(G_XY(x)) - x|_1 + |G_XY(G_YX(y)) - y|_1)
          + lambda_id  (|G_XY(y) - y|_1 + |G_YX(x) - x|_1)          lambda_id = identity_weight * lambda_cyc

(the official code's lambda_A and lambda_B: the two cycles, and the identity term of the generator
that maps into that side, may be weighted apart; train.cycle_weight_b sets lambda_B).
    L_D = d_loss(D_X(x), D_X(pool_A(G_YX(y)))) + d_loss(D_Y(y), D_Y(pool_B(G_XY(x))))

with LSGAN's pair by default (train.loss). The cycle is what ties an output to its input: without
it (lambda_cyc = 0; the identity term is a share of it, so it goes too) any picture D_Y likes is
an answer, whatever went in. The pools (`ImagePool`, 50 pictures) show each D a history of G's
outputs, not only the latest, which damps the oscillation between the players (Shrivastava 2017).
As in the paired trainer, the generators run once per iteration, in D's step, and G's step reuses
their outputs.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from ..data.unpaired import UnpairedData
from ..losses import cycle_loss, gradient_penalty, identity_loss
from .trainer import Trainer


class ImagePool:
    """A history of up to `size` generated pictures (the official `ImagePool`).

    query(x): while the pool is filling, each picture is stored and returned as it is; once full,
    each picture is, with probability 1/2, swapped for a random stored one (that one is returned,
    the new one stored), else returned as it is. size 0 returns x unchanged."""

    def __init__(self, size: int):
        self.size = size
        self.images: Tensor | None = None
        self.count = 0

    @torch.no_grad()
    def query(self, x: Tensor, g: torch.Generator) -> Tensor:
        if self.size == 0:
            return x
        if self.images is None:
            self.images = x.new_empty((self.size, *x.shape[1:]))
        out = x.clone()
        for i in range(len(x)):
            if self.count < self.size:
                self.images[self.count] = x[i]
                self.count += 1
            elif float(torch.rand((), generator=g)) < 0.5:
                j = int(torch.randint(self.size, (), generator=g))
                out[i] = self.images[j]
                self.images[j] = x[i]
        return out

    def state(self) -> Tensor | None:
        return None if self.images is None else self.images[:self.count]

    def load(self, stored: Tensor) -> None:
        self.count = min(len(stored), self.size)
        self.images = stored.new_empty((self.size, *stored.shape[1:]))
        self.images[:self.count] = stored[:self.count]


class CycleTrainer(Trainer):
    """Trainer for model.arch cyclegan (see the module docstring)."""

    def __init__(self, cfg, device="auto", data=None, callbacks=None):
        super().__init__(cfg, device, data, callbacks)
        t = cfg.train
        self.pools = {"a": ImagePool(t.pool_size), "b": ImagePool(t.pool_size)}
        self._last: tuple[Tensor, Tensor, dict[str, Tensor]] | None = None
        # fixed pictures of each side for the sample sheets, the same all run long
        self.preview_batch = self.data.sample(min(t.n_samples, 8), torch.Generator().manual_seed(t.seed + 12345))

    def _check_data(self) -> None:
        if not isinstance(self.data, UnpairedData):
            raise TypeError("CycleTrainer trains on UnpairedData (gan_core/data/unpaired.py)")

    @property
    def lambda_a(self) -> float:
        """lambda of the A -> B -> A cycle (the official lambda_A)."""
        return self.cfg.train.cycle_weight

    @property
    def lambda_b(self) -> float:
        """lambda of the B -> A -> B cycle (lambda_B): train.cycle_weight_b, else cycle_weight."""
        t = self.cfg.train
        return t.cycle_weight if t.cycle_weight_b is None else t.cycle_weight_b

    @property
    def identity(self) -> bool:
        return self.cfg.train.identity_weight * max(self.lambda_a, self.lambda_b) > 0

    def real_pictures(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        """This process's rows of a batch of A and one of B, drawn independently, in [-1, 1]."""
        a, b = self.data.sample(self.cfg.train.batch_size, g)
        a, b = (v[self.rows].to(self.device) * 2 - 1 for v in (a, b))
        if self.channels_last:
            a, b = (v.contiguous(memory_format=torch.channels_last) for v in (a, b))
        return a, b

    # ------------------------------------------------------------------ one iteration

    def d_step(self, g: torch.Generator) -> dict[str, Tensor]:
        a, b = self.real_pictures(g)
        with self._autocast():
            out = {k: v.float() for k, v in self.G_train(a, b, identity=self.identity).items()}
        self._last = (a, b, out)
        fake_a = self.pools["a"].query(out["fake_a"].detach(), g)
        fake_b = self.pools["b"].query(out["fake_b"].detach(), g)
        with self._autocast():
            ra, fa, rb, fb = (v.float() for v in self.D_train(a, fake_a, b, fake_b))
            loss_a, loss_b = self.loss.d_loss(ra, fa), self.loss.d_loss(rb, fb)
        loss = loss_a + loss_b
        stats = {"loss_d": loss.detach(), "loss_d_a": loss_a.detach(), "loss_d_b": loss_b.detach()}
        if self.loss.gradient_penalty:  # on each critic's mean patch score
            gp = sum(gradient_penalty(lambda v, D=D: D(v).float().flatten(1).mean(1), real, fake, generator=g)
                     for D, real, fake in ((self.D.a, a, fake_a), (self.D.b, b, fake_b)))
            loss = loss + self.cfg.train.gp_weight * gp
            stats["gp"] = gp.detach()
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        self.clip_critic()
        squash = (lambda v: v) if self.loss.critic else torch.sigmoid
        stats["d_real"] = (squash(ra.detach()).mean() + squash(rb.detach()).mean()) / 2
        stats["d_fake"] = (squash(fa.detach()).mean() + squash(fb.detach()).mean()) / 2
        return stats

    def g_step(self, g: torch.Generator) -> dict[str, Tensor]:
        a, b, out = self._last
        self.D.requires_grad_(False)  # gradients through the Ds, not for their weights
        try:
            with self._autocast():
                adv_ab = self.loss.g_loss(self.D.b(out["fake_b"]).float())  # G_XY against D_Y
                adv_ba = self.loss.g_loss(self.D.a(out["fake_a"]).float())  # G_YX against D_X
        finally:
            self.D.requires_grad_(True)
        cyc_a, cyc_b = cycle_loss(a, out["rec_a"]), cycle_loss(b, out["rec_b"])
        loss = adv_ab + adv_ba + self.lambda_a * cyc_a + self.lambda_b * cyc_b
        stats = {"adv_a2b": adv_ab.detach(), "adv_b2a": adv_ba.detach(), "cycle": (cyc_a + cyc_b).detach(),
                 "cycle_a": cyc_a.detach(), "cycle_b": cyc_b.detach()}
        if "idt_b" in out:  # as the official code: G_XY's identity by lambda_B, G_YX's by lambda_A
            idt_b, idt_a = identity_loss(b, out["idt_b"]), identity_loss(a, out["idt_a"])
            w = self.cfg.train.identity_weight
            loss = loss + w * (self.lambda_b * idt_b + self.lambda_a * idt_a)
            stats.update(identity=(idt_a + idt_b).detach(), identity_a=idt_a.detach(), identity_b=idt_b.detach())
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_G.step()
        self._last = None
        if self.G_ema is not None:
            self._update_ema()
        return {"loss_g": loss.detach(), **stats}

    # ------------------------------------------------------------------ state beyond the nets

    def extra_state(self) -> dict[str, Tensor]:
        """The pools: a resumed run shows D the same history it would have seen."""
        return {f"pool.{k}": p.state().contiguous() for k, p in self.pools.items() if p.state() is not None}

    def load_extra_state(self, tensors: dict[str, Tensor]) -> None:
        for k, pool in self.pools.items():
            if f"pool.{k}" in tensors:
                pool.load(tensors[f"pool.{k}"].to(self.device))

    def export(self, path, extra_card=None):
        return super().export(path, {"task": "cyclegan", **(extra_card or {})})

    # ------------------------------------------------------------------ pictures of progress

    def translate(self, x: Tensor, direction: str) -> Tensor:
        with self.sampling() as G:
            return G.direction(direction)(x.to(self.device)).float().cpu()

    def write_preview(self, stem: Path) -> Path:
        path = stem.with_suffix(".png")
        self.preview().save(path)
        return path

    def preview(self) -> Image.Image:
        """One row per fixed pair of pictures: a | G_XY(a) | G_YX(G_XY(a)) || b | G_YX(b) | G_XY(G_YX(b))."""
        a, b = (v * 2 - 1 for v in self.preview_batch)
        fake_b = self.translate(a, "a2b")
        fake_a = self.translate(b, "b2a")
        rec_a, rec_b = self.translate(fake_b, "b2a"), self.translate(fake_a, "a2b")

        def rgb(v: Tensor) -> Tensor:
            v = (v.cpu() + 1) / 2
            return v.expand(-1, 3, -1, -1) if v.shape[1] == 1 else v
        cells = torch.stack([rgb(v) for v in (a, fake_b, rec_a, b, fake_a, rec_b)], 1).flatten(0, 1).clamp(0, 1)
        grid = make_grid(cells, nrow=6, padding=2, pad_value=1.0)
        return Image.fromarray((grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8"))
