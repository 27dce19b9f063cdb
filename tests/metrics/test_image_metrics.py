import pytest
import torch
from torch import nn

from gan_core.metrics.images import evaluate_generator, frechet_distance, label_accuracy, load_classifier, predict
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
    from gan_core.nets import build_gan
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
