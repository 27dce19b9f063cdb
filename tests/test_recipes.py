"""Recipes: read from a file or text, typed overrides applied once, the per-loss presets in one table."""
import pytest

from gan_core.config import ConfigError
from gan_core.lab.toy2d import ModelSpec, loss_defaults, toy_recipe
from gan_core.losses import LOSSES
from gan_core.recipes import LOSS_PRESETS, apply_overrides, dump_recipe, load_recipe, parse_overrides


def test_a_recipe_from_text_equals_the_same_recipe_from_its_file(tmp_path):
    path = tmp_path / "r.yaml"
    text = "name: t\nmodel: {arch: dcgan, img_size: 32, ngf: 8}\ntrain: {steps: 7, lr_g: 1e-4}\n"
    path.write_text(text)
    assert load_recipe(text=text) == load_recipe(path)
    assert load_recipe(text=text).train.lr_g == 1e-4  # YAML 1.1's '1e-4' string is a float here


def test_dump_then_load_is_the_identity():
    cfg = load_recipe(None, {"train.loss": "wgan-gp", "model.d_norm": "layer", "train.betas": (0.0, 0.9)})
    assert load_recipe(text=dump_recipe(cfg)) == cfg


def test_typed_overrides_make_sections_and_do_not_touch_the_input():
    raw = {"train": {"steps": 5}}
    out = apply_overrides(raw, {"train.instance_noise.sigma": 0.2, "model.ngf": 16, "train.betas": (0.1, 0.2)})
    assert out == {"train": {"steps": 5, "instance_noise": {"sigma": 0.2}, "betas": [0.1, 0.2]}, "model": {"ngf": 16}}
    assert raw == {"train": {"steps": 5}}
    with pytest.raises(ConfigError, match="'steps' is a value, not a section"):
        apply_overrides(raw, {"train.steps.x": 1})


def test_cli_strings_and_typed_overrides_give_the_same_recipe():
    assert load_recipe(None, ["train.lr_d=3e-4", "train.betas=[0.0, 0.9]", "model.ngf=16"]) == \
        load_recipe(None, {"train.lr_d": 3e-4, "train.betas": (0.0, 0.9), "model.ngf": 16})
    assert parse_overrides(["a.b=x=y"]) == {"a.b": "x=y"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["train.steps"])


def test_every_loss_has_one_preset_and_the_toy_lab_reads_it():
    assert set(LOSS_PRESETS) == set(LOSSES)
    for loss, preset in LOSS_PRESETS.items():
        cfg = toy_recipe("ring8", loss)
        for key, value in preset.items():
            assert loss_defaults(loss)[key] == value
            section, name = key.split(".")
            assert getattr(getattr(cfg, section), name) == value
    assert toy_recipe("ring8", "wgan-gp").train.betas == (0.0, 0.9)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_the_labs_settings_map_to_the_same_recipe_both_ways(loss):
    spec = ModelSpec.default(loss)
    assert toy_recipe("ring8", loss, 0, spec.overrides()) == toy_recipe("ring8", loss)
    changed = spec.model_copy(update={"lr_d": 1e-3, "beta2": 0.95, "pack": 2})
    cfg = toy_recipe("ring8", loss, 0, changed.overrides())
    assert cfg.train.lr_d == 1e-3 and cfg.train.betas[1] == 0.95 and cfg.model.pack == 2
