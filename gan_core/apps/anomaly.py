"""Anomaly scores from a GAN trained on normal data only.

AnoGAN (Schlegl et al., 2017): for an image x search the latent space,

    z* = argmin_z  A(x, z),   A(x, z) = (1 - lam) * |x - G(z)|_1 + lam * |f(x) - f(G(z))|_1

with f the discriminator's last feature map (lam = 0.1), and score x by A(x, z*): an image the
generator cannot reconstruct is anomalous. All images of a request (and all restarts) are
optimised together as one batch; G and D run in eval mode, so each image's search is its own.

f-AnoGAN's izi_f encoder (Schlegl et al., 2019) replaces the search by one pass: E is trained
with G and D frozen on  |x - G(E(x))|^2 / n_pixels + kappa * |f(x) - f(G(E(x)))|^2 / n_features,
which is also its score.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..nets.encoder import Encoder


@dataclass
class Scored:
    """Per image: the anomaly score, the reconstruction G(z*) and the per-pixel residual |x - G(z*)|
    averaged over channels (B, H, W)."""
    score: Tensor
    reconstruction: Tensor
    residual: Tensor


def _features(D: nn.Module, x: Tensor) -> Tensor:
    return D.features(x).flatten(1)


def anogan_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, lam: float) -> Tensor:
    """A(x, z) per image: (1 - lam) * L1 residual + lam * L1 feature distance (sums, as the paper)."""
    return (1 - lam) * (x - fake).abs().flatten(1).sum(1) + lam * (fx - ffake).abs().sum(1)


def anogan_score(G: nn.Module, D: nn.Module, x: Tensor, *, steps: int = 500, lam: float = 0.1, lr: float = 0.05,
                 restarts: int = 1, nz: int | None = None, seed: int = 0, progress=None) -> Scored:
    """The latent search for a batch x (B, C, H, W) in [-1, 1]; `restarts` random starts per image,
    the best kept. `progress(step, steps)` is called every 10 steps."""
    was = G.training, D.training
    G.eval(), D.eval()
    G.requires_grad_(False), D.requires_grad_(False)
    try:
        nz = nz or G.nz
        b = len(x)
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(b * restarts, nz, generator=g).to(x.device).requires_grad_(True)
        target = x.repeat(restarts, 1, 1, 1)
        with torch.no_grad():
            fx = _features(D, target)
        opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
        for step in range(steps):
            fake = G(z)
            loss = anogan_loss(target, fake, fx, _features(D, fake), lam)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # images are independent: the sum's gradient is each image's own
            opt.step()
            if progress is not None and (step + 1) % 10 == 0:
                progress(step + 1, steps)
        with torch.no_grad():
            fake = G(z)
            final = anogan_loss(target, fake, fx, _features(D, fake), lam).view(restarts, b)
            best = final.argmin(0)
            idx = best * b + torch.arange(b, device=x.device)
            recon = fake[idx]
            return Scored(final.min(0).values, recon, (x - recon).abs().mean(1))
    finally:
        G.train(was[0]), D.train(was[1])
        G.requires_grad_(True), D.requires_grad_(True)


def izif_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, kappa: float) -> Tensor:
    """Per image: mean squared residual + kappa * mean squared feature distance (f-AnoGAN)."""
    return (x - fake).pow(2).flatten(1).mean(1) + kappa * (fx - ffake).pow(2).mean(1)


def train_encoder(G: nn.Module, D: nn.Module, images: Tensor, *, steps: int = 2000, batch_size: int = 64,
                  kappa: float = 1.0, lr: float = 1e-4, width: int = 32, seed: int = 0, progress=None) -> Encoder:
    """izi_f: train E on normal images with G and D frozen."""
    torch.manual_seed(seed)
    was = G.training, D.training
    G.eval(), D.eval()
    G.requires_grad_(False), D.requires_grad_(False)
    E = Encoder(images.shape[-1], images.shape[1], G.nz, width).to(images.device)
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    try:
        for step in range(steps):
            x = images[torch.randint(len(images), (batch_size,), generator=g)]
            fake = G(E(x))
            with torch.no_grad():
                fx = _features(D, x)
            loss = izif_loss(x, fake, fx, _features(D, fake), kappa).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None and (step + 1) % 50 == 0:
                progress(step + 1, steps)
    finally:
        G.train(was[0]), D.train(was[1])
        G.requires_grad_(True), D.requires_grad_(True)
    return E.eval()


@torch.no_grad()
def encoder_score(G: nn.Module, D: nn.Module, E: nn.Module, x: Tensor, kappa: float = 1.0) -> Scored:
    G.eval(), D.eval(), E.eval()
    recon = G(E(x))
    score = izif_loss(x, recon, _features(D, x), _features(D, recon), kappa)
    return Scored(score, recon, (x - recon).abs().mean(1))


# ---------------------------------------------------------------- detectors: recipe -> trained, thresholded model

METHODS = ("encoder", "anogan")


@dataclass
class Detector:
    """A GAN trained on normal images, its encoder, and the thresholds chosen on validation."""
    G: nn.Module
    D: nn.Module
    E: nn.Module
    card: dict

    @property
    def img_size(self) -> int:
        return self.card["model"]["img_size"]

    @property
    def channels(self) -> int:
        return self.card["model"]["channels"]

    def threshold(self, method: str) -> float | None:
        return (self.card.get("thresholds") or {}).get(method)

    def score(self, x: Tensor, method: str = "encoder", progress=None, **search) -> Scored:
        """x (B, C, H, W) in [-1, 1]; method 'encoder' (one pass) or 'anogan' (latent search, with the
        recipe's settings unless given)."""
        if method == "encoder":
            return encoder_score(self.G, self.D, self.E, x, self.card["encoder"]["kappa"])
        if method == "anogan":
            settings = {k: self.card["search"][k] for k in ("steps", "lam", "lr", "restarts")} | search
            return anogan_score(self.G, self.D, x, progress=progress, **settings)
        raise ValueError(f"unknown method {method!r}; choose encoder or anogan")


def _split(n: int, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = max(1, round(n * fraction))
    return perm[k:], perm[:k]


def anomalous_pool(data_cfg, size: int, channels: int):
    """The images of the same source that are *not* normal under data.classes / data.exclude_classes
    (None when every image is normal)."""
    from ..data.images import ImageData, load_images, resize_images
    if data_cfg.name == "texture":  # synthetic defects on training-region patches (the test region stays unseen)
        from ..data.textures import defect_set
        d = defect_set(data_cfg.texture, 400, size, seed=1, split="train")
        defective = torch.from_numpy(d["images"][d["labels"] == 1]).unsqueeze(1)
        return ImageData(resize_images(defective, size, channels), None, f"texture/{data_cfg.texture}/defects")
    if data_cfg.classes is not None:
        swapped = {"classes": None, "exclude_classes": list(data_cfg.classes)}
    elif data_cfg.exclude_classes:
        swapped = {"classes": list(data_cfg.exclude_classes), "exclude_classes": []}
    else:
        return None
    return load_images(data_cfg.model_copy(update=swapped), size, channels)


def fit_detector(recipe, device: str = "auto", callbacks=None, log=print) -> Detector:
    """Train the GAN on the normal training images, then the encoder; choose each method's
    F1-optimal threshold on the held-out normal images plus as many anomalous ones."""
    from ..config import dump_config
    from ..data.images import ImageData, load_images
    from ..metrics.anomaly import ThresholdError, auroc, f1_threshold
    from ..train.trainer import Trainer

    cfg, m = recipe.gan, recipe.gan.model
    normal = load_images(cfg.data, m.img_size, m.channels)
    train_idx, val_idx = _split(len(normal), recipe.validation, cfg.train.seed)
    train = ImageData(normal.images[train_idx], None, normal.name)
    log(f"{recipe.name}: {len(train)} normal training images, {len(val_idx)} held out")
    trainer = Trainer(cfg, device, data=train, callbacks=callbacks)
    state = trainer.fit()
    if state != "finished":
        raise RuntimeError(f"GAN training {state} at step {trainer.step}")
    G, D = trainer.sampler(), trainer.D
    x_train = train.batch(torch.arange(len(train)))[0].to(trainer.device)
    e = recipe.encoder
    E = train_encoder(G, D, x_train, steps=e.steps, batch_size=e.batch_size, kappa=e.kappa, lr=e.lr,
                      width=e.width, seed=cfg.train.seed)
    card = {"kind": "anomaly", "name": recipe.name, "description": recipe.description, "step": trainer.step,
            "model": m.model_dump(mode="json"), "data": cfg.data.model_dump(mode="json"),
            "encoder": e.model_dump(mode="json"), "search": recipe.search.model_dump(mode="json"),
            "recipe_yaml": dump_config(recipe), "thresholds": {}, "validation": {}}
    det = Detector(G, D, E, card)
    x_val = normal.batch(val_idx)[0].to(trainer.device)
    pool = anomalous_pool(cfg.data, m.img_size, m.channels)
    if pool is None:
        card["validation"]["note"] = "no anomalous images to choose a threshold with: set it by hand"
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


def save_detector(det: Detector, path) -> "Path":
    from ..checkpoint import module_tensors, save_checkpoint
    tensors = {**module_tensors(det.G, "G"), **module_tensors(det.D, "D"), **module_tensors(det.E, "E")}
    return save_checkpoint(path, tensors, det.card)


def load_detector(path, device: str = "cpu") -> Detector:
    from pathlib import Path

    from ..checkpoint import CheckpointError, load_module, read_checkpoint
    from ..devices import resolve_device
    from ..nets import build_gan
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
    from ..data.textures import defect_set
    from ..metrics.anomaly import auroc, pixel_auroc
    d = defect_set(det.card["data"]["texture"], n, det.img_size, seed=0, split="test")
    x = torch.from_numpy(d["images"]).unsqueeze(1).float().div(127.5).sub(1)
    x = x.to(next(det.G.parameters()).device)
    out = {}
    for method in methods:
        r = det.score(x, method)
        out[f"auroc_{method}"] = auroc(r.score.cpu(), d["labels"])
        defective = d["labels"] == 1
        out[f"pixel_auroc_{method}"] = pixel_auroc(r.residual.cpu().numpy()[defective], d["masks"][defective])
    return out


@dataclass
class TestSet:
    """The built-in test set of a detector: images in [-1, 1], labels (1 = anomalous), a group per
    image (its digit, or its defect kind) and defect masks where known."""
    x: Tensor
    labels: Tensor
    groups: list[str]
    masks: Tensor | None
    name: str


def builtin_test_set(det: Detector) -> TestSet:
    """MNIST-5k's 500 held-out test digits (anomalous: the digits that were not normal in training),
    or 200 patches of the texture's test rows, half with defects."""
    data = det.card["data"]
    if data["name"] == "texture":
        from ..data.textures import defect_set
        d = defect_set(data["texture"], 200, det.img_size, seed=0, split="test")
        x = torch.from_numpy(d["images"]).unsqueeze(1).float().div(127.5).sub(1)
        return TestSet(x, torch.from_numpy(d["labels"]), [str(k) for k in d["kinds"]],
                       torch.from_numpy(d["masks"]), f"texture/{data['texture']}/test")
    if data["name"] == "mnist5k":
        from ..data.images import mnist5k, resize_images
        test = mnist5k("test")
        x = resize_images(test.images, det.img_size, det.channels).float().div(127.5).sub(1)
        y = test.labels
        if data.get("classes") is not None:
            anomalous = ~torch.isin(y, torch.tensor(data["classes"]))
        else:
            anomalous = torch.isin(y, torch.tensor(data.get("exclude_classes") or [-1]))
        return TestSet(x, anomalous.long(), [str(int(k)) for k in y], None, "mnist5k/test")
    raise ValueError(f"no built-in test set for data {data['name']!r}; upload labelled images instead")
