"""Image-GAN metrics on the features of the project's own digit classifier.

Inception weights cannot be downloaded here, so every metric is taken on the 128-d
penultimate features of checkpoints/mnist_classifier (the offline stand-in for Inception).
Absolute values are not comparable with published FID/KID; compare them with the
train-vs-test baseline, which measures how far two real samples are.

    FD  = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))          (Heusel 2017)
    KID = unbiased MMD^2 with the kernel k(x, y) = (x.y/d + 1)^3          (Binkowski 2018)
    precision, recall: share of fakes inside the real k-NN balls, and of reals inside
        the fake ones                                                    (Kynkaanniemi 2019)
    density, coverage: mean number of real k-NN balls holding a fake (/k), and share of
        real balls holding at least one fake                             (Naeem 2020)
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from ..checkpoint import CheckpointError, load_module, read_checkpoint
from ..data.images import mnist5k
from ..devices import resolve_device
from ..nets.classifier import DigitClassifier
from ..paths import checkpoints_dir


def default_classifier() -> Path:
    """$GAN_STUDIO_CHECKPOINTS/mnist_classifier.safetensors, else the repository's shipped one."""
    root = checkpoints_dir()
    return Path(root) / "mnist_classifier.safetensors"


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> DigitClassifier:
    tensors, card = read_checkpoint(path)
    if card.get("kind") != "classifier":
        raise CheckpointError(f"{Path(path).name}: holds a {card.get('kind')!r} model, not a classifier")
    m = card["model"]
    model = DigitClassifier(m["channels"], m["n_classes"], m["width"], m["feature_dim"], m["img_size"])
    load_module(model, tensors, "C", Path(path).name)
    return model.to(resolve_device(device)).eval()


class _Given(nn.Module):
    """Feature vectors computed already: torchmetrics' FD and KID run on them without another
    pass through the classifier (each image set goes through it once for all metrics)."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, f: Tensor) -> Tensor:
        return f.double()


@torch.no_grad()
def features(classifier: DigitClassifier, images: Tensor, batch: int = 500) -> Tensor:
    """Classifier features (N, d) of images in [-1, 1]."""
    device = next(classifier.parameters(), torch.empty(0)).device
    return torch.cat([classifier.features(images[i:i + batch].to(device)).float().cpu()
                      for i in range(0, len(images), batch)])


def fd_of_features(a: Tensor, b: Tensor) -> float:
    fd = FrechetInceptionDistance(feature=_Given(a.shape[1]))
    fd.update(a, real=True)
    fd.update(b, real=False)
    return float(fd.compute())


def kid_of_features(a: Tensor, b: Tensor, subsets: int = 50, subset_size: int = 500) -> tuple[float, float]:
    """(mean, std) over `subsets` random subsets; fixed subsets (seeded), so a figure repeats."""
    with warnings.catch_warnings():  # "will save all extracted features": they are the point here
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=_Given(a.shape[1]), subsets=subsets,
                                      subset_size=min(subset_size, len(a), len(b)))
    kid.update(a, real=True)
    kid.update(b, real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)  # torchmetrics draws the subsets from torch's global generator
    try:
        mean, std = kid.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def frechet_distance(classifier: DigitClassifier, a: Tensor, b: Tensor) -> float:
    """FD between two image sets in [-1, 1] on classifier features."""
    return fd_of_features(features(classifier, a), features(classifier, b))


def kernel_distance(classifier: DigitClassifier, a: Tensor, b: Tensor, subsets: int = 50,
                    subset_size: int = 500) -> tuple[float, float]:
    """KID (mean, std over random subsets) between two image sets in [-1, 1] on classifier features."""
    return kid_of_features(features(classifier, a), features(classifier, b), subsets, subset_size)


def _kth_neighbour_distance(x: Tensor, k: int) -> Tensor:
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # +1: each point is its own nearest neighbour


def precision_recall(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` feature vectors (N, d)."""
    r_real, r_fake = _kth_neighbour_distance(real, k), _kth_neighbour_distance(fake, k)
    d = torch.cdist(fake, real)                     # (fake, real)
    inside_real = d <= r_real.unsqueeze(0)          # fake j inside real ball i
    inside_fake = d <= r_fake.unsqueeze(1)          # real i inside fake ball j
    return {"precision": round(float(inside_real.any(1).float().mean()), 4),
            "recall": round(float(inside_fake.any(0).float().mean()), 4),
            "density": round(float(inside_real.sum(1).float().mean() / k), 4),
            "coverage": round(float((d.min(0).values <= r_real).float().mean()), 4)}


@torch.no_grad()
def predict(classifier: DigitClassifier, images: Tensor, batch: int = 500) -> Tensor:
    device = next(classifier.parameters()).device
    return torch.cat([classifier(images[i:i + batch].to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch)])


def label_accuracy(generator, classifier: DigitClassifier, per_class: int = 100, seed: int = 0) -> dict:
    """Share of a conditional generator's samples that the classifier reads as the asked-for class."""
    out = {}
    hits = total = 0
    for k in range(generator.n_classes):
        pred = predict(classifier, generator.sample(per_class, seed=seed + k, labels=k))
        out[str(k)] = round(float((pred == k).float().mean()), 4)
        hits += int((pred == k).sum())
        total += per_class
    return {"label_accuracy": round(hits / total, 4), "label_accuracy_per_class": out}


@torch.no_grad()
def generate(generator, n: int, seed: int = 0, batch: int = 500) -> Tensor:
    """n samples in batches; a conditional generator cycles through its classes, a self-conditioned
    one draws its groups at their training shares (LoadedGenerator.draw_labels)."""
    out = []
    labels = generator.draw_labels(n)
    for i in range(0, n, batch):
        m = min(batch, n - i)
        out.append(generator.sample(m, seed=seed * 100_003 + i, labels=None if labels is None else labels[i:i + m]))
    return torch.cat(out)


def evaluate_generator(generator, classifier: DigitClassifier, n: int = 4500, seed: int = 0) -> dict:
    """FD, KID, precision/recall and density/coverage of n samples against the MNIST-5k test split,
    each next to the same figure for the real training split (the baseline: what 'as good as
    real data' scores)."""
    test, train = mnist5k("test"), mnist5k("train")
    x_test = test.batch(torch.arange(len(test)))[0]
    x_train = train.batch(torch.arange(len(train)))[0]
    f_test, f_train = features(classifier, x_test), features(classifier, x_train)
    f_fake = features(classifier, generate(generator, n, seed))
    fd, base = fd_of_features(f_test, f_fake), fd_of_features(f_test, f_train)
    (kid, kid_std), (kid_base, _) = kid_of_features(f_test, f_fake), kid_of_features(f_test, f_train)
    # k-NN figures depend on set sizes: equal-sized sets, a fixed random subset (the training split
    # is stored class by class, so its first rows would all be zeros)
    g = torch.Generator().manual_seed(seed)
    m = len(f_test)
    pick = lambda f: f[torch.randperm(len(f), generator=g)[:m]]  # noqa: E731
    pr, pr_base = precision_recall(f_test, pick(f_fake)), precision_recall(f_test, pick(f_train))
    out = {"fd_classifier": round(fd, 3), "fd_train_vs_test": round(base, 3),
           "fd_ratio_to_baseline": round(fd / base, 2), "fd_samples": n, "fd_reference": test.name,
           "kid": round(kid, 5), "kid_std": round(kid_std, 5), "kid_train_vs_test": round(kid_base, 5),
           **pr, **{f"{k}_train_vs_test": v for k, v in pr_base.items()}}
    if generator.n_classes and not generator.self_conditioned:  # a group is not a digit: nothing to check
        out.update(label_accuracy(generator, classifier, seed=seed))
    return out
