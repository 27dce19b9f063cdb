"""One training loop for every GAN here: Algorithm 1 of Goodfellow et al. (2014).

    for each training iteration:
        repeat k times:                      # k = train.k_d
            x ~ p_data (a minibatch), z ~ p_z
            update D by descending d_loss(D(x), D(G(z)))   (+ gradient penalty, then weight clipping)
                                                           (D sees T(x), T(G(z)) under DiffAugment)
        z ~ p_z
        update G by descending g_loss(D(G(z)))

Randomness is drawn from a CPU generator seeded by (seed, step), so a run is
reproducible on any device and a resumed run continues exactly where it left off.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import (
    CheckpointError,
    generator_prefix,
    load_module,
    load_optimizer,
    module_tensors,
    optimizer_tensors,
    read_checkpoint,
    save_checkpoint,
)
from ..config import SR_ARCHS, Config, build_gan
from ..recipes import dump_recipe
from ..data import DataError, ImageData, ToyDistribution, load_training_data
from ..data.clusters import label_prior
from ..devices import native_bf16, resolve_device
from ..errors import TrainingDiverged
from ..losses import get_loss, gradient_penalty, r1_penalty
from ..nets import sample_noise
from . import ddp
from .diffaug import diff_augment


class Callback:
    """Hooks the loop calls; subclasses write logs, samples and checkpoints (see callbacks.py)."""

    def on_start(self, trainer: "Trainer") -> None:
        pass

    def on_step(self, trainer: "Trainer", stats: dict[str, float]) -> None:
        pass

    def on_end(self, trainer: "Trainer", state: str, message: str) -> None:
        pass


def make_optimizer(params, name: str, lr: float, betas: tuple[float, float], momentum: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}; choose adam, rmsprop or sgd")


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class Trainer:
    def __init__(self, cfg: Config, device: str | torch.device = "auto",
                 data: ImageData | ToyDistribution | None = None, callbacks: list[Callback] | None = None):
        self.cfg = cfg
        t = cfg.train
        self.device = resolve_device(device)
        self.loss = get_loss(t.loss)
        torch.manual_seed(t.seed)  # weight initialisation
        self.G, self.D = build_gan(cfg.model)
        self.G.to(self.device)
        self.D.to(self.device)
        # DCGAN's convolutions run faster in NHWC and, on hardware with native bf16, under bf16
        # autocast (bench dcgan: 1.13x and 1.8x on a 2-core AVX512-BF16 CPU). The 2D MLPs keep
        # float32 on the CPU: they need its precision (a ring mode is 0.02 wide).
        self.channels_last = cfg.model.family in ("image", "unpaired") and self.device.type in ("cuda", "cpu")
        if self.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if t.ema_decay is not None else None
        self.opt_G = make_optimizer(self.G.parameters(), t.optimizer, t.lr_g, t.betas, t.momentum)
        self.opt_D = make_optimizer(self.D.parameters(), t.optimizer, t.lr_d, t.betas, t.momentum)
        self.data = data if data is not None else load_training_data(cfg)
        self._check_data()
        if isinstance(self.data, ImageData):
            self.data = self.data.to(self.device)
        # Batch norm makes D's output for one sample depend on the rest of the batch, so
        # real and fake batches go through D separately, as in the DCGAN paper; without
        # it one fused pass over [x; G(z)] is the same maths at half the launches.
        self.fuse_d = not has_batchnorm(self.D)
        # SRResNet/RRDB train as well under CPU bf16 (+0.86 vs +0.85 dB over bicubic after 1,000 steps
        # of sr_srresnet_x4) and 1.5x faster; Pix2Pix was not measured, so it stays float32 there
        # CycleGAN (32x32 digits, batch 32) runs 0.56 -> 0.35 s/step under CPU bf16 and channels_last.
        self.amp = t.amp and native_bf16(self.device) and (
            self.device.type == "cuda" or self.channels_last or cfg.model.arch in SR_ARCHS)
        # Several processes (torchrun): each keeps its slice of every global batch, and G and D
        # average their gradients through DDP (gan_core/train/ddp.py says why this is exact).
        self.world = ddp.current()
        self.rows = self.world.rows(t.batch_size)
        # Self-conditioning (data.clusters): G draws each group at its share of the training pictures;
        # rank 0's groups are everyone's, whatever each machine's t-SNE made of the same pictures
        self.label_prior: Tensor | None = None
        if cfg.data.clusters and isinstance(self.data, ImageData):
            if self.world.size > 1:
                self.data.labels = ddp.broadcast(self.data.labels.cpu(), self.world).to(self.device)
            self.label_prior = label_prior(self.data.labels, self.n_classes).float()
        self.G_train, self.D_train = self.G, self.D
        if self.world.size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G_train = DistributedDataParallel(self.G, device_ids=ids)
            self.D_train = DistributedDataParallel(self.D, device_ids=ids)
        self.callbacks: list[Callback] = list(callbacks or [])
        self.step = 0
        self.stop_requested = False
        self._preview: tuple[Tensor, Tensor | None] | None = None  # fixed inputs of the sample sheets

    # ------------------------------------------------------------------ data and noise

    @property
    def n_classes(self) -> int:
        return self.cfg.model.n_classes

    @property
    def n_codes(self) -> int:
        return getattr(self.cfg.model, "n_codes", 0)

    def _check_data(self) -> None:
        k = self.n_classes
        if isinstance(self.data, ImageData):
            if len(self.data) < 2:
                raise DataError(f"{self.data.name}: at least 2 images are needed to train, found {len(self.data)}")
            if k and self.data.labels is None:
                raise DataError(f"model.n_classes is {k} but {self.data.name} has no labels "
                                "(put each class in its own subfolder, or set model.n_classes: 0)")
            if k and self.data.n_classes != k:
                raise DataError(f"model.n_classes is {k} but {self.data.name} has {self.data.n_classes} classes")
        elif self.data.dim != getattr(self.cfg.model, "data_dim", self.data.dim):
            raise DataError(f"model.data_dim is {self.cfg.model.data_dim} but {self.data.name} is {self.data.dim}-D")

    def rng(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.cfg.train.seed * 1_000_003 + step)

    def real_batch(self, g: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """This process's rows of the global minibatch (all of it in a single process)."""
        b = self.cfg.train.batch_size
        if isinstance(self.data, ToyDistribution):
            return self.data.sample(b, g)[self.rows].to(self.device), None
        idx = torch.randint(len(self.data), (b,), generator=g)[self.rows].to(self.device)
        x, y = self.data.batch(idx)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def noise(self, g: torch.Generator) -> Tensor:
        """This process's rows of a global batch of noise."""
        z = sample_noise(self.cfg.train.batch_size, self.cfg.model.nz, self.cfg.model.noise, generator=g)
        return z[self.rows].to(self.device)

    def random_labels(self, g: torch.Generator) -> Tensor | None:
        if not self.n_classes:
            return None
        b = self.cfg.train.batch_size
        y = torch.randint(self.n_classes, (b,), generator=g) if self.label_prior is None else \
            torch.multinomial(self.label_prior, b, replacement=True, generator=g)
        return y[self.rows].to(self.device)

    def instance_noise_sigma(self) -> float:
        return self.cfg.train.noise_sigma(self.step)

    def _blur(self, x: Tensor, sigma: float, g: torch.Generator) -> Tensor:
        if sigma == 0:
            return x
        noise = torch.randn((self.cfg.train.batch_size, *x.shape[1:]), generator=g)[self.rows]
        return x + sigma * noise.to(x.device, x.dtype)

    def _augment(self, x: Tensor, g: torch.Generator) -> Tensor:
        """DiffAugment's T(x) (train.diffaugment), drawn for the global batch like the noise."""
        if not self.cfg.train.diffaugment:
            return x
        # in float32 in both players' steps (G's fake arrives in bf16 under autocast)
        x = diff_augment(x.float(), self.cfg.train.diffaugment, g, self.cfg.train.batch_size, self.rows)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp else nullcontext()

    # ------------------------------------------------------------------ Algorithm 1

    def d_step(self, g: torch.Generator) -> dict[str, Tensor]:
        x, y = self.real_batch(g)
        z = self.noise(g)
        with torch.no_grad(), self._autocast():
            fake = self.G(z, y).float()
        sigma = self.instance_noise_sigma()
        x, fake = self._blur(x, sigma, g), self._blur(fake, sigma, g)
        x, fake = self._augment(x, g), self._augment(fake, g)  # the penalty below sees T(x) and T(G(z)) too
        info = {"with_code": True} if self.n_codes else {}
        with self._autocast():
            if self.fuse_d:
                out = self.D_train(torch.cat([x, fake]), None if y is None else torch.cat([y, y]), **info)
                out, q = out if info else (out, None)
                real_out, fake_out = out.float().chunk(2)  # (one score per pack where D packs samples)
                q = None if q is None else q.chunk(2)[1]
            else:
                real_out = self.D_train(x, y).float()
                fake_out, q = self.D_train(fake, y, **info) if info else (self.D_train(fake, y), None)
                fake_out = fake_out.float()
            loss = self.loss.d_loss(real_out, fake_out)
        stats = {"loss_d": loss.detach()}
        if q is not None:  # Q learns to read the code from G's pictures
            info_loss = torch.nn.functional.cross_entropy(q.float(), self.G.code(z))
            loss = loss + self.cfg.train.info_weight * info_loss
            stats["info"] = info_loss.detach()
        if self.loss.gradient_penalty:
            # a global draw, as for x; one eps per pack, so each x_hat pack lies on the segment
            # between a real pack and a fake one
            pack = getattr(self.cfg.model, "pack", 1)
            eps = torch.rand(self.cfg.train.batch_size // pack, generator=g).repeat_interleave(pack)[self.rows]
            gp = gradient_penalty(lambda v: self.D(v, y).float(), x, fake, eps=eps)
            loss = loss + self.cfg.train.gp_weight * gp
            stats["gp"] = gp.detach()
        if self.cfg.train.r1_gamma:
            # on the pictures D was trained on this step (after any blur or augmentation), in float32:
            # the penalty's second derivatives are what bf16 rounds worst
            r1 = r1_penalty(lambda v: self.D(v, y).float(), x)
            loss = loss + 0.5 * self.cfg.train.r1_gamma * r1
            stats["r1"] = r1.detach()
        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        self.clip_critic()
        squash = (lambda v: v) if self.loss.critic else torch.sigmoid
        stats["d_real"] = squash(real_out.detach()).mean()
        stats["d_fake"] = squash(fake_out.detach()).mean()
        return stats

    @torch.no_grad()
    def clip_critic(self) -> None:
        """WGAN's weight clipping, w <- clip(w, -c, c), after each critic step (train.clip_value)."""
        c = self.cfg.train.clip_value
        if c is None:
            return
        for name, p in self.D.named_parameters():
            if not name.startswith("q_head."):  # the critic is clipped, not InfoGAN's Q classifier
                p.clamp_(-c, c)

    def g_step(self, g: torch.Generator) -> dict[str, Tensor]:
        z, y = self.noise(g), self.random_labels(g)
        self.D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
        try:
            with self._autocast():
                fake = self._augment(self._blur(self.G_train(z, y), self.instance_noise_sigma(), g), g)
                info = None
                if self.n_codes:  # InfoGAN: G also makes its code readable, lambda * CE(Q(G(z)), c)
                    out, q = self.D(fake, y, with_code=True)
                    info = torch.nn.functional.cross_entropy(q.float(), self.G.code(z))
                else:
                    out = self.D(fake, y)
                loss = self.loss.g_loss(out.float())
            self.opt_G.zero_grad(set_to_none=True)
            (loss if info is None else loss + self.cfg.train.info_weight * info).backward()
            self.opt_G.step()
        finally:
            self.D.requires_grad_(True)
        if self.G_ema is not None:
            self._update_ema()
        return {"loss_g": loss.detach(), **({} if info is None else {"info_g": info.detach()})}

    @torch.no_grad()
    def _update_ema(self) -> None:
        """theta_ema <- decay * theta_ema + (1 - decay) * theta; buffers (BN statistics) copied."""
        decay = self.cfg.train.ema_decay
        for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
            pe.lerp_(p, 1.0 - decay)
        for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
            be.copy_(b)

    def train_step(self) -> dict[str, float]:
        self.G.train()
        self.D.train()
        g = self.rng(self.step)
        self._set_learning_rates()
        for _ in range(self.cfg.train.k_d):
            d_stats = self.d_step(g)
        stats = ddp.average({**d_stats, **self.g_step(g)}, self.world)
        self.step += 1
        out = {k: float(v) for k, v in stats.items()}
        if self.cfg.train.instance_noise.sigma > 0:
            out["sigma"] = self.instance_noise_sigma()
        if self.loss.critic:
            out["w_estimate"] = -out["loss_d"]  # E[C(x)] - E[C(G(z))]
        bad = [k for k in ("loss_d", "loss_g", "gp", "r1") if k in out and not math.isfinite(out[k])]
        if bad:
            raise self.diverged(", ".join(f"{k} = {out[k]}" for k in bad))
        return out

    def _set_learning_rates(self) -> None:
        t = self.cfg.train
        scale = t.lr_scale(self.step)
        for opt, lr in ((self.opt_G, t.lr_g), (self.opt_D, t.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale

    def diverged(self, what: str) -> TrainingDiverged:
        t = self.cfg.train
        return TrainingDiverged(
            f"step {self.step}: {what}. Training became NaN or infinite, so it stopped; the last good "
            f"checkpoint is kept and nothing from this step was saved. Lower the learning rates "
            f"(now lr_g={t.lr_g:g}, lr_d={t.lr_d:g}) or try another loss.")

    def fit(self, steps: int | None = None, should_stop: Callable[[], bool] | None = None) -> str:
        """Train until `steps` (default train.steps), or until `should_stop()` (asked every log_every
        steps) or `stop_requested` says so; returns the final state for the callbacks."""
        target = steps if steps is not None else self.cfg.train.steps
        for cb in self.callbacks:
            cb.on_start(self)
        state, message = "finished", f"reached step {target}"
        try:
            while self.step < target:
                stats = self.train_step()
                for cb in self.callbacks:
                    cb.on_step(self, stats)
                if should_stop is not None and self.step % self.cfg.train.log_every == 0:
                    self.stop_requested = self.stop_requested or should_stop()
                if ddp.any_true(self.stop_requested, self.world):  # every process stops at the same step
                    state, message = "stopped", f"stopped at step {self.step}"
                    break
        except TrainingDiverged as e:
            state, message = "failed", str(e)
            for cb in self.callbacks:
                cb.on_end(self, state, message)
            raise
        except BaseException as e:
            state, message = "failed", f"{type(e).__name__}: {e}"
            for cb in self.callbacks:
                cb.on_end(self, state, message)
            raise
        for cb in self.callbacks:
            cb.on_end(self, state, message)
        return state

    # ------------------------------------------------------------------ sampling

    def sampler(self) -> nn.Module:
        return self.G_ema if self.G_ema is not None else self.G

    @contextmanager
    def sampling(self) -> Iterator[nn.Module]:
        """The sampling generator in eval mode, without gradients and under the run's autocast; its
        train/eval mode is restored afterwards (the training loop's G may be this very module)."""
        G = self.sampler()
        was_training = G.training
        G.eval()
        try:
            with torch.no_grad(), self._autocast():
                yield G
        finally:
            G.train(was_training)

    def sample(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        with self.sampling() as G:
            return G(z.to(self.device), None if y is None else y.to(self.device)).float().cpu()

    def write_preview(self, stem: Path) -> Path:
        """The sample sheet at this step, from one fixed z (and one column per class) for the whole
        run so sheets compare over time; its format is the data's own (a grid, points, piano rolls)."""
        if self._preview is None:
            n = self.data.preview_n or self.cfg.train.n_samples
            g = torch.Generator().manual_seed(self.cfg.train.seed + 12345)
            self._preview = (sample_noise(n, self.cfg.model.nz, self.cfg.model.noise, generator=g),
                             torch.arange(n) % self.n_classes if self.n_classes else None)
        return self.data.write_preview(self.sample(*self._preview), stem, self.cfg.model)

    # ------------------------------------------------------------------ checkpoints

    def weights_finite(self) -> bool:
        return all(torch.isfinite(p).all() for p in list(self.G.parameters()) + list(self.D.parameters()))

    def save_state(self, path: str | Path) -> Path:
        """Everything needed to continue: weights, EMA, optimizer moments, the step."""
        if not self.weights_finite():
            raise self.diverged("the weights are NaN or infinite")
        tensors = {**module_tensors(self.G, "G"), **module_tensors(self.D, "D")}
        if self.G_ema is not None:
            tensors.update(module_tensors(self.G_ema, "G_ema"))
        tensors.update(self.extra_state())
        opt_meta = {}
        for name, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            t, meta = optimizer_tensors(opt, name)
            tensors.update(t)
            opt_meta[name] = meta
        card = {"kind": "training-state", "name": self.cfg.name, "step": self.step,
                "config": self.cfg.model_dump(mode="json"), "model": self.cfg.model.model_dump(mode="json"),
                "optimizers": opt_meta, **self.data_card()}
        return save_checkpoint(path, tensors, card)

    def data_card(self) -> dict[str, Any]:
        """What a sampler needs to know of the data: class names, and the groups' shares (data.clusters)."""
        card: dict[str, Any] = {"classes": list(getattr(self.data, "classes", []))}
        if self.label_prior is not None:
            card["label_prior"] = [round(p, 6) for p in self.label_prior.tolist()]
        return card

    def load_state(self, path: str | Path) -> None:
        tensors, card = read_checkpoint(path)
        if card.get("kind") != "training-state":
            raise CheckpointError(f"{Path(path).name}: not a training-state checkpoint (kind {card.get('kind')!r})")
        if card.get("model") != self.cfg.model.model_dump(mode="json"):
            raise CheckpointError(f"{Path(path).name}: was trained with another model config; "
                                  "resume with the run's own config.yaml")
        load_module(self.G, tensors, "G", str(path))
        load_module(self.D, tensors, "D", str(path))
        if self.G_ema is not None:
            load_module(self.G_ema, tensors, generator_prefix(tensors), str(path))
        load_optimizer(self.opt_G, tensors, card["optimizers"]["opt_G"], "opt_G")
        load_optimizer(self.opt_D, tensors, card["optimizers"]["opt_D"], "opt_D")
        # The recipe, not the checkpoint, sets the hyperparameters: `--resume --set train.lr_d=...` applies
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                if "betas" in group:
                    group["betas"] = tuple(self.cfg.train.betas)
        self.load_extra_state(tensors)
        self.step = int(card["step"])
        self._set_learning_rates()

    def extra_state(self) -> dict[str, Tensor]:
        """Tensors a trainer form keeps beyond nets and optimizers (CycleGAN: its picture pools)."""
        return {}

    def load_extra_state(self, tensors: dict[str, Tensor]) -> None:
        pass

    def export(self, path: str | Path, extra_card: dict[str, Any] | None = None) -> Path:
        """The shippable model: G (the EMA copy when there is one) and D, no optimizer state."""
        tensors = {**module_tensors(self.sampler(), "G"), **module_tensors(self.D, "D")}
        card = {
            "kind": "gan",
            "name": self.cfg.name,
            "description": self.cfg.description, "description_zh": self.cfg.description_zh,
            "step": self.step,
            "model": self.cfg.model.model_dump(mode="json"),
            "data": self.cfg.data.model_dump(mode="json"),
            "train": self.cfg.train.model_dump(mode="json"),
            **self.data_card(),
            "generator": "EMA of G (decay %g)" % self.cfg.train.ema_decay if self.G_ema is not None else "G",
            "recipe_yaml": dump_recipe(self.cfg),
            "metrics": {},
            **(extra_card or {}),
        }
        return save_checkpoint(path, tensors, card)
