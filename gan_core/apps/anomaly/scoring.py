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

from contextlib import contextmanager
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
    with frozen(G, D):
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


def izif_loss(x: Tensor, fake: Tensor, fx: Tensor, ffake: Tensor, kappa: float) -> Tensor:
    """Per image: mean squared residual + kappa * mean squared feature distance (f-AnoGAN)."""
    return (x - fake).pow(2).flatten(1).mean(1) + kappa * (fx - ffake).pow(2).mean(1)


@contextmanager
def frozen(*nets: nn.Module):
    """Eval mode and no weight gradients for `nets`, restored to exactly what they were afterwards."""
    saved = [(m.training, [p.requires_grad for p in m.parameters()]) for m in nets]
    for m in nets:
        m.eval().requires_grad_(False)
    try:
        yield
    finally:
        for m, (training, grads) in zip(nets, saved):
            m.train(training)
            for p, g in zip(m.parameters(), grads):
                p.requires_grad_(g)


def train_encoder(G: nn.Module, D: nn.Module, images: Tensor, *, steps: int = 2000, batch_size: int = 64,
                  kappa: float = 1.0, lr: float = 1e-4, width: int = 32, seed: int = 0, progress=None) -> Encoder:
    """izi_f: train E on normal images with G and D frozen."""
    torch.manual_seed(seed)
    E = Encoder(images.shape[-1], images.shape[1], G.nz, width).to(images.device)
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    with frozen(G, D):
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


# A folder or .zip of one's own pictures: normal/ trains the GAN; test/normal/ and test/abnormal/,
# if there, are labelled pictures. Half of test/abnormal (a fixed, seeded half) chooses the thresholds
# with the held-out normal pictures; the other half and test/normal are the detector's test set.
FOLDER_PARTS = ("normal", "test/normal", "test/abnormal")


def folder_parts(path) -> dict[str, int]:
    """How many picture files each part of the layout holds (0: absent)."""
    from pathlib import PurePosixPath

    from ..data.images import IMAGE_SUFFIXES, iter_image_files
    counts = dict.fromkeys(FOLDER_PARTS, 0)
    for rel, _ in iter_image_files(path):
        if PurePosixPath(rel).suffix.lower() in IMAGE_SUFFIXES:
            for part in FOLDER_PARTS:
                if rel.startswith(part + "/"):
                    counts[part] += 1
    return counts


def normal_images(data_cfg, size: int, channels: int):
    """The normal training pictures: data.classes of a dataset, a texture's patches, or the normal/
    part of a folder laid out as FOLDER_PARTS (a folder without it is normal throughout)."""
    from ..data.images import image_collection, load_images
    if data_cfg.name == "folder" and folder_parts(data_cfg.path)["normal"]:
        return image_collection(data_cfg.path, size, channels, data_cfg.max_images, subfolder="normal")
    return load_images(data_cfg, size, channels)


def _abnormal_halves(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """(validation, test) indices of a folder's test/abnormal pictures."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7))
    return perm[: n // 2], perm[n // 2:]


def anomalous_pool(data_cfg, size: int, channels: int, seed: int = 0):
    """The images of the same source that are *not* normal under data.classes / data.exclude_classes,
    synthetic texture defects, or half of a folder's test/abnormal (None when there are none)."""
    from ..data.images import ImageData, image_collection, load_images, resize_images
    if data_cfg.name == "folder":
        if not folder_parts(data_cfg.path)["test/abnormal"]:
            return None
        abnormal = image_collection(data_cfg.path, size, channels, subfolder="test/abnormal")
        keep, _ = _abnormal_halves(len(abnormal), seed)
        if not len(keep):
            return None
        return ImageData(abnormal.images[keep], None, abnormal.name, files=[abnormal.files[i] for i in keep])
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


class TrainingStopped(RuntimeError):
    """A detector's training was asked to stop; its GAN checkpoint is kept for a resume."""


def fit_detector(recipe, device: str = "auto", callbacks=None, log=print, resume_from=None,
                 stop=lambda: False, on_stage=lambda message: None) -> Detector:
    """Train the GAN on the normal training images, then the encoder; choose each method's
    F1-optimal threshold on the held-out normal images plus as many anomalous ones.
    `resume_from`: a training-state checkpoint of the GAN stage to continue from; `stop()` is
    polled every step; `on_stage(message)` hears when the encoder and thresholds begin."""
    from ..recipes import dump_recipe
    from ..data.images import ImageData
    from ..metrics.anomaly import ThresholdError, auroc, f1_threshold
    from ..train.trainer import Callback, Trainer

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
    card = {"kind": "anomaly", "name": recipe.name, "description": recipe.description, "step": trainer.step,
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
    if data["name"] == "folder":
        return folder_test_set(det)
    raise ValueError(f"no built-in test set for data {data['name']!r}; upload labelled images instead")


def folder_test_set(det: Detector) -> TestSet:
    """test/normal and the half of test/abnormal that did not choose the thresholds."""
    from pathlib import Path

    from ..data.images import image_collection
    data = det.card["data"]
    path = Path(data["path"])
    if not path.exists():
        raise ValueError(f"the pictures this detector was trained on ({path}) are not here any more, so it has no "
                         "test set; upload labelled pictures instead")
    parts = folder_parts(path)
    if not parts["test/normal"] and not parts["test/abnormal"]:
        raise ValueError(f"{path.name} has no test/normal/ or test/abnormal/ pictures, so this detector has no "
                         "test set; upload pictures instead")
    xs, labels, groups = [], [], []
    if parts["test/normal"]:
        normal = image_collection(path, det.img_size, det.channels, subfolder="test/normal")
        xs.append(normal.images)
        labels += [0] * len(normal)
        groups += ["normal"] * len(normal)
    if parts["test/abnormal"]:
        abnormal = image_collection(path, det.img_size, det.channels, subfolder="test/abnormal")
        _, keep = _abnormal_halves(len(abnormal), det.card.get("seed", 0))
        xs.append(abnormal.images[keep])
        labels += [1] * len(keep)
        groups += ["abnormal"] * len(keep)
    x = torch.cat(xs).float().div(127.5).sub(1)
    return TestSet(x, torch.tensor(labels), groups, None, f"{path.name}/test")


# ---------------------------------------------------------------- new detectors, trained as jobs

RECIPES = {"mnist5k": "anomaly_mnist_0.yaml", "texture": "anomaly_brick.yaml", "folder": "anomaly_mnist_0.yaml"}


def detector_recipe(source: str, name: str, *, digit: int = 0, digit_is: str = "normal", texture: str = "brick",
                    path: str | None = None, gan_steps: int | None = None, encoder_steps: int | None = None):
    """A detector recipe made from a shipped one (configs/anomaly_mnist_0.yaml for digits and pictures,
    anomaly_brick.yaml for textures) with the choices of the page: `source` mnist5k (`digit` is the
    normal class, or with digit_is='anomaly' the only anomalous one), texture, or folder (`path`)."""
    from pathlib import Path

    from ..recipes import load_recipe
    if source not in RECIPES:
        raise ValueError(f"unknown source {source!r}; choose {', '.join(RECIPES)}")
    sets = [f"name={name}", f"gan.name={name}_gan"]
    if source == "mnist5k":
        sets += [f"gan.data.classes=[{digit}]"] if digit_is == "normal" else \
            ["gan.data.classes=null", f"gan.data.exclude_classes=[{digit}]"]
        description = (f"Digit {digit} is normal" if digit_is == "normal" else f"Digit {digit} is the anomaly")
    elif source == "texture":
        sets += [f"gan.data.texture={texture}"]
        description = f"{texture} is normal"
    else:
        sets += ["gan.data.name=folder", f"gan.data.path={path}", "gan.data.classes=null"]
        description = f"The normal pictures of {Path(path).name}"
    if gan_steps:
        sets.append(f"gan.train.steps={int(gan_steps)}")
    if encoder_steps:
        sets.append(f"encoder.steps={int(encoder_steps)}")
    recipe = load_recipe(Path(__file__).resolve().parents[2] / "configs" / RECIPES[source], sets)
    recipe.description = f"{description}; trained from the app."
    return recipe


def submit_detector(recipe, pictures: bytes | None = None, root=None, owner: str = ""):
    """Queue the training of a detector as a background job; `pictures` (a .zip laid out as
    FOLDER_PARTS) is kept in the run folder, which the recipe then points at. Returns the RunDir."""
    from ..recipes import dump_recipe
    from ..io import atomic_write_bytes
    from ..jobs import schedule, submit
    from ..runs import RunIndex
    run = submit(dump_recipe(recipe), recipe.name, root=root, device="auto", owner=owner, start=False)
    if pictures is not None:
        target = run.path / "pictures.zip"
        atomic_write_bytes(target, pictures)
        recipe = recipe.model_copy(update={"gan": recipe.gan.model_copy(
            update={"data": recipe.gan.data.model_copy(update={"path": str(target.resolve())})})})
        run.write_config(dump_recipe(recipe))
    RunIndex(run.path.parent).update(run)
    schedule(run.path.parent)
    return run


def run_detectors(root=None) -> list[tuple["Path", dict]]:
    """(weights path, card) of every detector a run wrote (RUN/detector.*), newest run first."""
    from pathlib import Path

    from ..checkpoint import CheckpointError, read_card
    from ..runs import runs_root
    out = []
    for card_path in sorted(Path(root or runs_root()).glob("*/detector.json"), reverse=True):
        try:
            card = read_card(card_path)
        except CheckpointError:
            continue
        if card.get("kind") == "anomaly":
            out.append((card_path.with_suffix(".safetensors"), card))
    return out
