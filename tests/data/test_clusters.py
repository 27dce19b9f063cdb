"""Self-conditioning: groups found without labels, their shares, and how samples draw them."""
from __future__ import annotations

import pytest
import torch

from gan_core.config import ConfigError
from gan_core.data import DataError, ImageData
from gan_core.data import clusters as clusters_mod
from gan_core.data.clusters import cluster_labels, label_prior, self_condition, stratified_labels
from gan_core.recipes import load_recipe
from gan_core.sampling import load_generator
from gan_core.train.trainer import Trainer

SIZES = (30, 20, 12)  # three looks, unequal, so the numbering by size is checked too


def three_looks(seed: int = 0) -> tuple[ImageData, torch.Tensor]:
    """28x28 pictures of three templates (a bar across, a bar down, a box) with pixel noise; which
    template made each picture is the truth the groups must find."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.zeros(3, 28, 28)
    templates[0, 12:16, 4:24] = 1
    templates[1, 4:24, 12:16] = 1
    templates[2, 6:22, 6:22] = 1
    templates[2, 9:19, 9:19] = 0
    truth = torch.cat([torch.full((n,), k) for k, n in enumerate(SIZES)])
    x = templates[truth] * 200 + torch.rand(len(truth), 28, 28, generator=g) * 40
    order = torch.randperm(len(truth), generator=g)
    return ImageData(x[order].round().to(torch.uint8).unsqueeze(1), None, "looks"), truth[order]


def test_the_groups_are_the_looks_numbered_from_the_largest(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    data, truth = three_looks()
    found = torch.from_numpy(cluster_labels(data.images, 3))
    assert torch.equal(found, truth)  # each group is exactly one template, the largest is group 0
    grouped = self_condition(data, 3)
    assert grouped.classes == ["group 1", "group 2", "group 3"] and torch.equal(grouped.labels, truth)
    assert label_prior(grouped.labels, 3).tolist() == pytest.approx([n / sum(SIZES) for n in SIZES])


def test_pictures_beyond_the_mapped_sample_join_their_neighbours_groups(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    monkeypatch.setattr(clusters_mod, "MAX_CLUSTER_IMAGES", 40)  # t-SNE maps 40 of the 62, k-NN places the rest
    data, truth = three_looks()
    assert torch.equal(torch.from_numpy(cluster_labels(data.images, 3)), truth)


def test_groups_are_cached_by_the_pictures_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    data, _ = three_looks()
    first = cluster_labels(data.images, 3)
    monkeypatch.setattr(clusters_mod, "_fit", lambda *a: pytest.fail("the cached groups were fitted again"))
    assert (cluster_labels(data.images, 3) == first).all()
    other, _ = three_looks(seed=1)  # other pictures: other bytes, fitted anew
    with pytest.raises(pytest.fail.Exception):
        cluster_labels(other.images, 3)


@pytest.mark.parametrize("k", [1, 63])
def test_an_impossible_number_of_groups_is_a_message(tmp_path, monkeypatch, k):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    data, _ = three_looks()
    with pytest.raises(DataError, match="data.clusters .*between 2 and the number of pictures \\(62\\)"):
        cluster_labels(data.images, k)


def test_stratified_labels_follow_the_prior():
    assert torch.bincount(stratified_labels([0.5, 0.3, 0.2], 10)).tolist() == [5, 3, 2]
    assert torch.bincount(stratified_labels([1.0] * 10, 20)).tolist() == [2] * 10  # uniform: n/K each
    drawn = stratified_labels([0.25, 0.0, 0.75], 8)
    assert torch.bincount(drawn, minlength=3).tolist() == [2, 0, 6]  # a group with no pictures is never drawn
    # shuffled, so that the first half (the metric tracker's precision/recall set) has every group too
    half = stratified_labels([0.1] * 10, 1000)[:500]
    assert torch.bincount(half, minlength=10).min() >= 35
    assert torch.equal(stratified_labels([0.1] * 10, 1000), stratified_labels([0.1] * 10, 1000))  # fixed


@pytest.mark.parametrize("sets, message", [
    (["data.clusters=10"], "model.n_classes must be 10 too"),
    (["data.clusters=4", "model.n_classes=10"], "model.n_classes must be 4 too"),
    (["data.clusters=3", "model.n_classes=3", "model.n_codes=3"], "model.n_codes .* data.clusters to 0"),
])
def test_recipes_that_cannot_condition_on_groups_are_refused(sets, message):
    with pytest.raises(ConfigError, match=message):
        load_recipe(None, sets)


def test_a_self_conditioned_model_draws_its_groups_at_their_shares(tmp_path, monkeypatch, tiny_dcgan_cfg):
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path))
    data, _ = three_looks()
    cfg = tiny_dcgan_cfg("data.clusters=3", "model.n_classes=3")
    trainer = Trainer(cfg, device="cpu", data=self_condition(data, 3))
    assert trainer.label_prior.tolist() == pytest.approx([n / sum(SIZES) for n in SIZES], abs=1e-6)
    drawn = torch.cat([trainer.random_labels(torch.Generator().manual_seed(s)) for s in range(400)])
    share = torch.bincount(drawn, minlength=3).double() / len(drawn)  # 3,200 draws: within 3 s.d.
    assert share.tolist() == pytest.approx(trainer.label_prior.tolist(), abs=0.03)
    trainer.fit(2)
    gen = load_generator(trainer.export(tmp_path / "grouped.safetensors"))
    assert gen.self_conditioned and gen.classes == ["group 1", "group 2", "group 3"]
    assert torch.bincount(gen.draw_labels(31)).tolist() == [15, 10, 6]  # 31 x (30, 20, 12)/62
    # asked for no group, it draws them itself, the same for a seed
    assert torch.equal(gen.sample(6, seed=3), gen.sample(6, seed=3))
    assert not torch.equal(gen.sample(6, seed=3), gen.sample(6, seed=4))
    # the same from a run's training state, as the Gallery reads it
    state = load_generator(trainer.save_state(tmp_path / "state.safetensors"))
    assert state.self_conditioned and state.classes == gen.classes


def test_a_model_with_real_classes_draws_them_in_turn(tmp_path, tiny_dcgan_cfg):
    data = ImageData(torch.randint(0, 255, (8, 1, 28, 28), dtype=torch.uint8), torch.arange(8) % 2, "two",
                     ["a", "b"])
    trainer = Trainer(tiny_dcgan_cfg("model.n_classes=2"), device="cpu", data=data)
    assert trainer.label_prior is None
    gen = load_generator(trainer.export(tmp_path / "two.safetensors"))
    assert not gen.self_conditioned and gen.draw_labels(5).tolist() == [0, 1, 0, 1, 0]


@pytest.mark.parametrize("prior", [["a", "b"], [0.5], [float("nan"), 1.0], [-1.0, 2.0], [0.0, 0.0], "0.5,0.5"])
def test_a_damaged_prior_in_a_card_is_ignored(tmp_path, tiny_dcgan_cfg, prior):
    data = ImageData(torch.randint(0, 255, (8, 1, 28, 28), dtype=torch.uint8), torch.arange(8) % 2, "two",
                     ["a", "b"])
    gen = load_generator(Trainer(tiny_dcgan_cfg("model.n_classes=2"), device="cpu", data=data)
                         .export(tmp_path / "two.safetensors"))
    gen.card["label_prior"] = prior
    assert gen.label_prior is None and not gen.self_conditioned
