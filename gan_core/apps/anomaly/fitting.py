"""A detector from a recipe: the GAN on normal images, then f-AnoGAN's encoder with G and D frozen,
then each method's threshold t = argmax_t F1 of 'anomalous if score >= t' on held-out normal images
plus as many anomalous ones; saved as one checkpoint (G, D, E and a card)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ...checkpoint import CheckpointError, load_module, module_tensors, read_checkpoint, save_checkpoint
from ...config import build_gan
from ...data.images import ImageData
from ...devices import resolve_device
from ...metrics.anomaly import ThresholdError, auroc, f1_threshold, pixel_auroc
from ...nets.encoder import Encoder
from ...recipes import dump_recipe
from ...train import Callback, Trainer
from .data import anomalous_pool, normal_images, texture_test_set
from .scoring import METHODS, Detector, features, frozen, izif_loss


class TrainingStopped(RuntimeError):
    """A detector's training was asked to stop; its GAN checkpoint is kept for a resume."""


def train_encoder(G: nn.Module, D: nn.Module, images: Tensor, *, steps: int = 2000, batch_size: int = 64,
                  kappa: float = 1.0, lr: float = 1e-4, width: int = 32, seed: int = 0, progress=None) -> Encoder:
    """izi_f: E = argmin_E mean over normal x of izif_loss(x, G(E(x))), by Adam, with G and D frozen."""
    torch.manual_seed(seed)
    E = Encoder(images.shape[-1], images.shape[1], G.nz, width).to(images.device)
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    with frozen(G, D):
        for step in range(steps):
            x = images[torch.randint(len(images), (batch_size,), generator=g)]
            fake = G(E(x))
            with torch.no_grad():
                fx = features(D, x)
            loss = izif_loss(x, fake, fx, features(D, fake), kappa).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None and (step + 1) % 50 == 0:
                progress(step + 1, steps)
    return E.eval()


def _split(n: int, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """(train, validation) indices: a seeded `fraction` of n held out."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(1, round(n * fraction))
    return perm[k:], perm[:k]


def fit_detector(recipe, device: str = "auto", callbacks=None, log=print, resume_from=None,
                 stop=lambda: False, on_stage=lambda message: None) -> Detector:
    """Train the GAN on the normal training images, then the encoder; choose each method's
    F1-optimal threshold on the held-out normal images plus as many anomalous ones.
    `resume_from`: a training-state checkpoint of the GAN stage to continue from; `stop()` is
    polled every step; `on_stage(message)` hears when the encoder and thresholds begin."""
    cfg, m = recipe.gan, recipe.gan.model
    normal = normal_images(cfg.data, m.img_size, m.channels)
    train_idx, val_idx = _split(len(normal), recipe.validation, cfg.train.seed)
    train = ImageData(normal.images[train_idx], None, normal.name)
    log(f"{recipe.name}: {len(train)} normal training images, {len(val_idx)} held out")
    class _Poll(Callback):
        def on_step(self, trainer, stats):
            trainer.stop_requested = trainer.stop_requested or stop()
    trainer = Trainer(cfg, device, data=train, callbacks=[*(callbacks or []), _Poll()])
    if resume_from is not None:
        trainer.load_state(resume_from)
        log(f"resuming the GAN from step {trainer.step}")
    state = trainer.fit()
    if state == "stopped":
        raise TrainingStopped(f"stopped at GAN step {trainer.step}; resume continues from there")
    if state != "finished":
        raise RuntimeError(f"GAN training {state} at step {trainer.step}")
    on_stage(f"GAN trained ({trainer.step} steps); training the encoder ({recipe.encoder.steps} steps) "
             "and choosing thresholds")
    G, D = trainer.sampler(), trainer.D
    x_train = train.batch(torch.arange(len(train)))[0].to(trainer.device)
    e = recipe.encoder

    def encoder_progress(step: int, steps: int) -> None:
        if stop():
            raise TrainingStopped(f"stopped while training the encoder; the GAN is done (step {trainer.step}), "
                                  "so resume trains the encoder again")
        on_stage(f"GAN trained ({trainer.step} steps); training the encoder: step {step} of {steps}")
    E = train_encoder(G, D, x_train, steps=e.steps, batch_size=e.batch_size, kappa=e.kappa, lr=e.lr,
                      width=e.width, seed=cfg.train.seed, progress=encoder_progress)
    card = {"kind": "anomaly", "name": recipe.name, "description": recipe.description, "description_zh": recipe.description_zh, "step": trainer.step,
            "seed": cfg.train.seed,
            "model": m.model_dump(mode="json"), "data": cfg.data.model_dump(mode="json"),
            "encoder": e.model_dump(mode="json"), "search": recipe.search.model_dump(mode="json"),
            "recipe_yaml": dump_recipe(recipe), "thresholds": {}, "validation": {}}
    det = Detector(G, D, E, card)
    x_val = normal.batch(val_idx)[0].to(trainer.device)
    pool = anomalous_pool(cfg.data, m.img_size, m.channels, cfg.train.seed)
    if pool is None:
        card["validation"]["note"] = ("no anomalous images to choose a threshold with (a folder can hold them "
                                      "in test/abnormal/): set it by hand")
        return det
    pick = torch.randperm(len(pool), generator=torch.Generator().manual_seed(cfg.train.seed + 1))[:len(val_idx)]
    x = torch.cat([x_val, pool.batch(pick)[0].to(trainer.device)])
    labels = torch.cat([torch.zeros(len(x_val)), torch.ones(len(pick))])
    for method in METHODS:
        scores = det.score(x, method).score.cpu()
        try:
            t = f1_threshold(scores, labels)
        except ThresholdError as err:
            card["validation"]["note"] = str(err)
            continue
        card["thresholds"][method] = t.value
        card["validation"][method] = {"auroc": auroc(scores, labels), "f1": t.f1, "precision": t.precision,
                                      "recall": t.recall, "n_normal": len(x_val), "n_anomalous": len(pick)}
    return det


def save_detector(det: Detector, path) -> Path:
    tensors = {**module_tensors(det.G, "G"), **module_tensors(det.D, "D"), **module_tensors(det.E, "E")}
    return save_checkpoint(path, tensors, det.card)


def load_detector(path, device: str = "cpu") -> Detector:
    tensors, card = read_checkpoint(path)
    if card.get("kind") != "anomaly":
        raise CheckpointError(f"{Path(path).name} holds a {card.get('kind')!r} model, not an anomaly detector")
    try:
        G, D = build_gan(card["model"])
        E = Encoder(card["model"]["img_size"], card["model"]["channels"], card["model"]["nz"],
                    card["encoder"]["width"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{Path(path).name}: the card does not describe a detector this version can "
                              f"build ({e})") from None
    for module, prefix in ((G, "G"), (D, "D"), (E, "E")):
        load_module(module, tensors, prefix, Path(path).name)
    dev = resolve_device(device)
    return Detector(G.to(dev).eval(), D.to(dev).eval(), E.to(dev).eval(), card)


def evaluate_texture(det: Detector, n: int = 200, methods: tuple[str, ...] = METHODS) -> dict[str, float]:
    """Image and pixel AUROC on the texture's test region: n patches, half with defects of known masks."""
    test = texture_test_set(det.card["data"]["texture"], n, det.img_size)
    x = test.x.to(next(det.G.parameters()).device)
    defective = (test.labels == 1).numpy()
    out = {}
    for method in methods:
        r = det.score(x, method)
        out[f"auroc_{method}"] = auroc(r.score.cpu(), test.labels)
        out[f"pixel_auroc_{method}"] = pixel_auroc(r.residual.cpu().numpy()[defective], test.masks.numpy()[defective])
    return out
