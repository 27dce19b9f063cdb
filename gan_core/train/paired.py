"""Image-to-image GANs on the one training loop: Pix2Pix and SRGAN.

The loop (Trainer.fit / train_step) is unchanged; what differs is what D and G see. With a
condition x (a drawing, or a picture shrunk by bicubic) and its target y:

    Pix2Pix  D judges pairs:   d_loss(D(x, y), D(x, G(x)))
             G minimises       adv_weight * g_loss(D(x, G(x))) + lambda * |y - G(x)|_1      (lambda = 100)
    SRGAN    D judges pictures: d_loss(D(y), D(G(x)))
             G minimises       gamma * g_loss(D(G(x))) + alpha * MSE(y, G(x)) + beta * VGG(y, G(x))

adv_weight (gamma) = 0 trains G alone on the content losses, with no D step: SRResNet, the first
stage of SRGAN's recipe; the second stage starts G from it (train.init_g). G(x) is computed once
per iteration and shared by D's step (detached) and G's, as in the official Pix2Pix code.
Pix2Pix pictures are in [-1, 1] (tanh output); super-resolution works in [0, 1].
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from ..checkpoint import CheckpointError, generator_prefix, load_module, read_checkpoint
from ..config import SR_ARCHS
from ..data.pairs import PairData
from ..losses import PerceptualLoss
from ..nets.srresnet import bicubic
from .trainer import Trainer


class PairedTrainer(Trainer):
    """Trainer for model.arch pix2pix, srresnet and rrdb (see the module docstring)."""

    def __init__(self, cfg, device="auto", data=None, callbacks=None):
        super().__init__(cfg, device, data, callbacks)
        m, t = cfg.model, cfg.train
        self.is_sr = m.arch in SR_ARCHS
        self.scale = getattr(m, "scale", 1)
        self.use_d = t.adv_weight > 0
        self.perceptual = PerceptualLoss(t.perceptual_layer).to(self.device) if t.perceptual_weight > 0 else None
        if t.init_g:
            self._init_generator(t.init_g)
        self._last: tuple[Tensor, Tensor, Tensor] | None = None
        # a fixed set of pairs for the sample sheets, the same all run long
        self.preview_pairs = self.data.sample(min(t.n_samples, 8), torch.Generator().manual_seed(t.seed + 12345))

    def _check_data(self) -> None:
        if not isinstance(self.data, PairData):
            raise TypeError("PairedTrainer trains on PairData (gan_core/data/pairs.py)")

    def _init_generator(self, path: str) -> None:
        tensors, card = read_checkpoint(path)
        if card.get("model", {}).get("arch") != self.cfg.model.arch:
            raise CheckpointError(f"train.init_g: {path} holds a {card.get('model', {}).get('arch')!r} "
                                  f"model, not {self.cfg.model.arch!r}")
        load_module(self.G, tensors, generator_prefix(tensors), str(path))
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.G.state_dict())

    # ------------------------------------------------------------------ data

    def condition_and_target(self, a: Tensor | None, b: Tensor) -> tuple[Tensor, Tensor]:
        """Crops in [0, 1] -> (x, y) in the model's range: the drawing and picture in [-1, 1]
        (Pix2Pix), or bicubic-shrunk picture and picture in [0, 1] (SR)."""
        b = b.to(self.device)
        if self.is_sr:
            return bicubic(b, 1 / self.scale).clamp(0, 1), b
        return a.to(self.device) * 2 - 1, b * 2 - 1

    def real_pairs(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        a, b = self.data.sample(self.cfg.train.batch_size, g)
        rows = self.rows
        return self.condition_and_target(None if a is None else a[rows], b[rows])

    def judge(self, x: Tensor, y: Tensor) -> Tensor:
        """D's logits: Pix2Pix's D sees the pair, SRGAN's the picture alone."""
        return self.D_train(y) if self.is_sr else self.D_train(x, y)

    # ------------------------------------------------------------------ one iteration

    def d_step(self, g: torch.Generator) -> dict[str, Tensor]:
        x, y = self.real_pairs(g)
        with self._autocast():
            fake = self.G_train(x).float()
        self._last = (x, y, fake)
        if not self.use_d:
            return {}
        with self._autocast():
            real_out, fake_out = self.judge(x, y).float(), self.judge(x, fake.detach()).float()
            loss = self.loss.d_loss(real_out, fake_out)
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        return {"loss_d": loss.detach(), "d_real": torch.sigmoid(real_out.detach()).mean(),
                "d_fake": torch.sigmoid(fake_out.detach()).mean()}

    def g_step(self, g: torch.Generator) -> dict[str, Tensor]:
        t = self.cfg.train
        x, y, fake = self._last
        stats: dict[str, Tensor] = {}
        pixel = F.l1_loss(fake, y) if t.pixel_loss == "l1" else F.mse_loss(fake, y)
        loss = t.pixel_weight * pixel
        stats["pixel"] = pixel.detach()
        if self.perceptual is not None:
            # VGG reads [0, 1] RGB pictures
            to01 = (lambda v: v) if self.is_sr else (lambda v: (v + 1) / 2)
            rgb = (lambda v: v) if fake.shape[1] == 3 else (lambda v: v.expand(-1, 3, -1, -1))
            perc = self.perceptual(rgb(to01(fake)), rgb(to01(y)))
            loss = loss + t.perceptual_weight * perc
            stats["perceptual"] = perc.detach()
        if self.use_d:
            self.D.requires_grad_(False)
            try:
                with self._autocast():
                    adv = self.loss.g_loss(self.judge(x, fake).float())
            finally:
                self.D.requires_grad_(True)
            loss = loss + t.adv_weight * adv
            stats["adv"] = adv.detach()
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_G.step()
        self._last = None
        if self.G_ema is not None:
            self._update_ema()
        if self.is_sr:  # PSNR of the training batch, the figure SR people watch
            mse = F.mse_loss(fake.detach().clamp(0, 1), y)
            stats["psnr"] = -10 * torch.log10(mse.clamp_min(1e-10))
        return {"loss_g": loss.detach(), **stats}

    def export(self, path, extra_card=None):
        extra = {"task": "superres" if self.is_sr else "pix2pix"}
        if self.perceptual is not None:
            extra["perceptual"] = self.perceptual.source
        return super().export(path, {**extra, **(extra_card or {})})

    # ------------------------------------------------------------------ pictures of progress

    def translate(self, x: Tensor) -> Tensor:
        with self.sampling() as G:
            return G(x.to(self.device)).float().cpu()

    def write_preview(self, stem: Path) -> Path:
        path = stem.with_suffix(".png")
        self.preview().save(path)
        return path

    def preview(self) -> Image.Image:
        """A sheet with one row per fixed pair: input | output | target (SR: the input bicubic-upscaled)."""
        a, b = self.preview_pairs
        x, y = self.condition_and_target(a, b)
        out = self.translate(x)
        x, y = x.cpu(), y.cpu()
        if self.is_sr:
            x = bicubic(x, self.scale)
        else:
            x, y, out = (x + 1) / 2, (y + 1) / 2, (out + 1) / 2
        def rgb(v: Tensor) -> Tensor:
            return v.expand(-1, 3, -1, -1) if v.shape[1] == 1 else v
        cells = torch.stack([rgb(x), rgb(out), rgb(y)], 1).flatten(0, 1).clamp(0, 1)
        grid = make_grid(cells, nrow=3, padding=2, pad_value=1.0)
        return Image.fromarray((grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8"))
