"""Labels a GAN finds for itself: self-conditioning (Liu et al., "Diverse Image Generation via
Self-Conditioned GANs", CVPR 2020).

An unconditional GAN must learn where the modes of the data are *and* how to draw each one. Give it
a partition of the training pictures into K groups, found without any labels, and it can train as
a class-conditional model on those groups, then sample unconditionally by drawing a group at its
training frequency:

    c ~ Categorical(n_1/N, ..., n_K/N),  z ~ N(0, I),  x = G(z, c)

The paper clusters D's features during training; here the groups are fixed before training, from
the pictures alone: k-means of a 2-D t-SNE map of their first 50 principal components. On the
4,500 MNIST-5k training digits the ten groups are 86% pure digit classes (k-means of the raw pixels:
55%), which is what lets the model reach an FD the plain DCGAN does not (docs/benchmarks.md).
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import Tensor

from ..io import cached_arrays
from .images import DataError, ImageData

MAX_CLUSTER_IMAGES = 10_000  # t-SNE of more takes minutes: the map is fitted to a sample and extended


def cluster_labels(images: Tensor, k: int, seed: int = 0) -> np.ndarray:
    """One group id in 0..k-1 per picture: k-means (10 starts) of t-SNE(PCA-50(pixels)).

    Deterministic for a seed and cached by the pictures' bytes, so every run on the same data, and
    every process of a multi-process run, trains on the same groups."""
    n = len(images)
    if not 2 <= k <= n:
        raise DataError(f"data.clusters {k}: need between 2 and the number of pictures ({n}) groups")
    flat = images.reshape(n, -1)
    key = hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]
    arrays = cached_arrays(f"clusters_{key}_k{k}_s{seed}", lambda: {"labels": _fit(flat, k, seed)},
                           check=lambda a: a.get("labels", np.empty(0)).shape == (n,))
    return arrays["labels"].astype(np.int64)


def _fit(flat: Tensor, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans  # heavy imports, only when a recipe asks for groups
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.neighbors import KNeighborsClassifier

    x = flat.float().numpy() / 255.0
    n = len(x)
    dims = min(50, n - 1, x.shape[1])
    pcs = PCA(dims, random_state=seed).fit_transform(x) if dims < x.shape[1] else x
    fit = np.random.default_rng(seed).permutation(n)[:MAX_CLUSTER_IMAGES]
    perplexity = min(30.0, (len(fit) - 1) / 3)  # t-SNE needs perplexity < the number of points
    mapped = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(pcs[fit])
    labels = np.empty(n, dtype=np.int64)
    labels[fit] = KMeans(k, n_init=10, random_state=seed).fit_predict(mapped)
    rest = np.setdiff1d(np.arange(n), fit)
    if len(rest):  # pictures beyond the sample join the group of their nearest sampled neighbours
        labels[rest] = KNeighborsClassifier(5).fit(pcs[fit], labels[fit]).predict(pcs[rest])
    # number the groups from the largest down, so "group 1" means the same on every machine
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    return np.argsort(order)[labels]


def self_condition(data: ImageData, k: int, seed: int = 0) -> ImageData:
    """`data` with its labels replaced by k groups found without them (any real labels are dropped)."""
    labels = torch.from_numpy(cluster_labels(data.images, k, seed))
    return ImageData(data.images, labels, f"{data.name} in {k} groups",
                     [f"group {i + 1}" for i in range(k)], data.skipped, data.files)


def label_prior(labels: Tensor, k: int) -> Tensor:
    """p(c) = n_c / N, the share of training pictures in each group."""
    counts = torch.bincount(labels.cpu(), minlength=k).double()
    return counts / counts.sum()


def stratified_labels(prior: Tensor | list[float], n: int) -> Tensor:
    """n labels whose counts follow `prior` as closely as n allows: the group whose share of the
    cumulative prior holds (i + 1/2)/n, for i < n, in an order fixed by a seeded shuffle, so that
    a metric reading only the first m of them still sees every group. The low-variance way to draw
    a fixed number of samples for a metric (for a uniform prior: n/K of each)."""
    cdf = torch.cumsum(torch.as_tensor(prior, dtype=torch.float64), 0)
    cdf = cdf / cdf[-1]
    at = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    labels = torch.searchsorted(cdf, at).clamp_(max=len(cdf) - 1)
    return labels[torch.randperm(n, generator=torch.Generator().manual_seed(0))]


def draw_labels(n: int, n_classes: int, prior: Tensor | None) -> Tensor | None:
    """Labels for n samples as the training data has them, for a metric: none for an unconditional
    model, every class in turn for real classes, each group at its share (`prior`) for groups."""
    if not n_classes:
        return None
    return torch.arange(n) % n_classes if prior is None else stratified_labels(prior, n)
