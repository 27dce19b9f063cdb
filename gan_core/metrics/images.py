"""Image-GAN metrics on the features of the project's own digit classifier.

Inception weights cannot be downloaded here, so the Fréchet distance is taken on the
128-d penultimate features of checkpoints/mnist_classifier (a "Fréchet classifier
distance"). Its absolute value is not comparable with published FID; compare it
with the train-vs-test baseline, which measures how far two real samples are.

    FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ..checkpoint import CheckpointError, load_module, read_checkpoint
from ..devices import resolve_device
from ..nets.classifier import DigitClassifier


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> DigitClassifier:
    tensors, card = read_checkpoint(path)
    if card.get("kind") != "classifier":
        raise CheckpointError(f"{Path(path).name}: holds a {card.get('kind')!r} model, not a classifier")
    m = card["model"]
    model = DigitClassifier(m["channels"], m["n_classes"], m["width"], m["feature_dim"], m["img_size"])
    load_module(model, tensors, "C", Path(path).name)
    return model.to(resolve_device(device)).eval()


class _Features(nn.Module):
    """torchmetrics hands images in [0, 1] (normalize=True); the classifier wants [-1, 1]."""

    def __init__(self, classifier: DigitClassifier):
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier.features(x.float() * 2 - 1).double()


@torch.no_grad()
def frechet_distance(classifier: DigitClassifier, a: Tensor, b: Tensor, batch: int = 500) -> float:
    """FD between two image sets in [-1, 1] on classifier features."""
    device = next(classifier.parameters(), torch.empty(0)).device
    fd = FrechetInceptionDistance(feature=_Features(classifier), normalize=True).to(device)
    for images, real in ((a, True), (b, False)):
        for i in range(0, len(images), batch):
            fd.update(((images[i:i + batch].to(device) + 1) / 2).clamp(0, 1), real=real)
    return float(fd.compute())


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
    """n samples in batches; a conditional generator cycles through its classes."""
    out = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        labels = (torch.arange(i, i + m) % generator.n_classes) if generator.n_classes else None
        out.append(generator.sample(m, seed=seed * 100_003 + i, labels=labels))
    return torch.cat(out)


def evaluate_generator(generator, classifier: DigitClassifier, n: int = 4500, seed: int = 0) -> dict:
    """Fréchet distance of n samples to the MNIST-5k test split, next to the same distance
    for the real training split (the baseline: what 'as good as real data' scores)."""
    from ..data.images import mnist5k
    test, train = mnist5k("test"), mnist5k("train")
    x_test = test.batch(torch.arange(len(test)))[0]
    x_train = train.batch(torch.arange(len(train)))[0]
    fake = generate(generator, n, seed)
    fd = frechet_distance(classifier, x_test, fake)
    base = frechet_distance(classifier, x_test, x_train)
    out = {"fd_classifier": round(fd, 3), "fd_train_vs_test": round(base, 3),
           "fd_ratio_to_baseline": round(fd / base, 2), "fd_samples": n, "fd_reference": test.name}
    if generator.n_classes:
        out.update(label_accuracy(generator, classifier, seed=seed))
    return out
