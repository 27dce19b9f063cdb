import pytest
import torch
from torch import nn

from gan_core.metrics.images import (evaluate_generator, frechet_distance, kernel_distance, label_accuracy,
                                    load_classifier, precision_recall, predict)
from gan_core.sampling import load_generator


class TwoPixelFeatures(nn.Module):
    """A 'classifier' whose features are the two pixels of a 1x2 image: FD becomes checkable by hand."""
    num_features = 2

    def features(self, x):
        return x.flatten(1)


def test_frechet_distance_of_gaussians():
    g = torch.Generator().manual_seed(0)
    a = 0.1 * torch.randn(20000, 1, 1, 2, generator=g)
    b = 0.1 * torch.randn(20000, 1, 1, 2, generator=g) + torch.tensor([0.3, -0.4]).view(1, 1, 1, 2)
    fd = frechet_distance(TwoPixelFeatures(), a, b)
    assert fd == pytest.approx(0.3 ** 2 + 0.4 ** 2, rel=0.03)  # same covariance: FD = |mu_a - mu_b|^2
    c = 0.2 * torch.randn(20000, 1, 1, 2, generator=g)  # same mean, std 0.1 vs 0.2: 2 * (0.1 - 0.2)^2
    assert frechet_distance(TwoPixelFeatures(), a, c) == pytest.approx(2 * 0.01, rel=0.1)
    assert frechet_distance(TwoPixelFeatures(), a, a.clone()) == pytest.approx(0.0, abs=1e-6)


def test_kernel_distance_is_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(1)
    a, b = (0.3 * torch.randn(2000, 1, 1, 2, generator=g) for _ in range(2))
    same, _ = kernel_distance(TwoPixelFeatures(), a, b, subsets=20, subset_size=500)
    near, _ = kernel_distance(TwoPixelFeatures(), a, b + 0.2, subsets=20, subset_size=500)
    far, _ = kernel_distance(TwoPixelFeatures(), a, b + 0.6, subsets=20, subset_size=500)
    assert abs(same) < 2e-3 and 0 < near < far


def test_precision_recall_density_coverage_on_known_sets():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(400, 8, generator=g)
    same = precision_recall(real, real.clone(), k=5)
    # identical sets: everything covered; each fake lies in its own ball and its k neighbours' (k+1)/k
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(6 / 5)
    far = precision_recall(real, real + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    # a generator that only ever draws one real point: precise, no recall, coverage of a few balls
    collapsed = precision_recall(real, real[:1].repeat(400, 1) + 1e-4 * torch.randn(400, 8, generator=g), k=5)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] <= 0.02 and collapsed["coverage"] <= 0.05


def test_shipped_classifier_is_accurate(shipped):
    from gan_core.checkpoint import read_card
    from gan_core.data.images import mnist5k
    path = shipped("mnist_classifier")
    card = read_card(path)
    clf = load_classifier(path)
    test = mnist5k("test")
    x, y = test.batch(torch.arange(len(test)))
    acc = (predict(clf, x) == y).float().mean().item()
    assert acc >= 0.97
    assert acc == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-3)  # the card tells the truth


def test_shipped_cgan_draws_the_digit_asked_for(shipped):
    gen = load_generator(shipped("mnist_cgan"))
    clf = load_classifier(shipped("mnist_classifier"))
    result = label_accuracy(gen, clf, per_class=50, seed=123)
    assert result["label_accuracy"] >= 0.95, result
    assert min(result["label_accuracy_per_class"].values()) >= 0.8, result


def test_shipped_dcgan_card_is_honest(shipped):
    """The card's Fréchet distance is reproduced with other samples, and the trained generator is far
    closer to real digits than the same architecture untrained."""
    from gan_core.checkpoint import read_card
    from gan_core.config import build_gan
    path = shipped("mnist_dcgan")
    card = read_card(path)
    gen = load_generator(path)
    clf = load_classifier(shipped("mnist_classifier"))
    m = evaluate_generator(gen, clf, n=4500, seed=1)
    assert m["fd_classifier"] == pytest.approx(card["metrics"]["fd_classifier"], rel=0.1)
    assert m["fd_train_vs_test"] == card["metrics"]["fd_train_vs_test"]
    assert "label_accuracy" not in m
    torch.manual_seed(0)
    gen.G = build_gan(gen.model)[0].eval()  # same architecture, random weights
    untrained = evaluate_generator(gen, clf, n=1000, seed=1)
    assert m["fd_classifier"] < untrained["fd_classifier"] / 3
