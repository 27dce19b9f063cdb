"""Recipes: read from a file or text, typed overrides applied once, the per-loss presets in one table."""
import json

import pytest
import yaml

from gan_core.config import ConfigError, validate_config
from gan_core.lab.toy2d import ModelSpec, loss_defaults, toy_recipe
from gan_core.losses import LOSSES
from gan_core.paths import CONFIGS, REPO as ROOT
from gan_core.recipes import LOSS_PRESETS, apply_overrides, dump_recipe, essential_recipe, load_recipe, parse_overrides


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


def test_every_path_field_is_found_and_checked_against_the_allowed_roots(tmp_path, monkeypatch):
    from gan_core.recipes import check_paths, recipe_paths
    cfg = load_recipe(None, {"data.name": "folder", "data.path": "/etc", "data.root": str(tmp_path / "tv")})
    assert recipe_paths(cfg) == {"data.path": "/etc", "data.root": str(tmp_path / "tv")}
    sr = load_recipe(None, {"model.arch": "srresnet", "data.name": "photos", "train.init_g": "/srv/x.safetensors"})
    assert recipe_paths(sr) == {"train.init_g": "/srv/x.safetensors"}
    nested = load_recipe("configs/anomaly_mnist_0.yaml", {"gan.data.root": "/data"})
    assert recipe_paths(nested) == {"gan.data.root": "/data"}
    with pytest.raises(ConfigError, match="data.path: /etc is outside"):
        check_paths(cfg, [tmp_path])
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    with pytest.raises(ConfigError, match="outside"):  # a link is followed before the check
        check_paths(load_recipe(None, {"data.name": "folder", "data.path": str(link)}), [tmp_path])
    check_paths(load_recipe(None, {"data.name": "folder", "data.path": str(tmp_path / "uploads" / "a.zip")}),
                [tmp_path])


def test_the_operator_decides_which_folders_recipes_may_read(tmp_path, monkeypatch):
    from gan_core.paths import allowed_data_roots
    from gan_core.recipes import check_paths
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("GAN_STUDIO_DATA_ROOT", raising=False)
    monkeypatch.delenv("GAN_STUDIO_DATA_ROOTS", raising=False)
    photos = load_recipe(None, {"data.name": "folder", "data.path": str(tmp_path / "team" / "photos")})
    with pytest.raises(ConfigError, match="GAN_STUDIO_DATA_ROOTS"):
        check_paths(photos)
    monkeypatch.setenv("GAN_STUDIO_DATA_ROOTS", f"/nowhere:{tmp_path / 'team'}")
    assert tmp_path / "team" in allowed_data_roots()
    check_paths(photos)


@pytest.mark.parametrize("pairs, message", [
    (["model=dcgan"], "model: Input should be a valid dictionary"),
    (["model=[1,2]"], "model: Input should be a valid dictionary"),
    (["task=[1,2]"], "task: Input should be 'gan'"),
    (["train.lr_g=1e300"], "train.lr_g: Input should be less than or equal to 1000000000"),
    (["train.betas=[1.5, 0.9]"], "train.betas.0: Input should be less than 1"),
    (["train.betas=[0.5, -0.1]"], "train.betas.1: Input should be greater than or equal to 0"),
    ([f"train.seed={2 ** 70}"], "train.seed: Input should be less than or equal to 4294967295"),
    (["model.arch=[1]"], "model.arch: got [1]"),
])
def test_hostile_values_get_a_message_not_a_traceback(pairs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_recipe(None, pairs)


def test_init_g_must_be_a_checkpoint_of_the_same_architecture(tmp_path, tiny_sr_cfg, tiny_pix2pix_cfg):
    from gan_core.recipes import check_init_g
    from gan_core.train import make_trainer
    not_a_checkpoint = tmp_path / "notes.safetensors"
    not_a_checkpoint.write_text("hello")
    with pytest.raises(ConfigError, match="train.init_g: notes.json"):
        check_init_g(tiny_sr_cfg(f"train.init_g={not_a_checkpoint}"))
    make_trainer(tiny_pix2pix_cfg(), "cpu").export(tmp_path / "p2p")
    with pytest.raises(ConfigError, match="holds a 'pix2pix' generator, and this recipe trains 'srresnet'"):
        check_init_g(tiny_sr_cfg(f"train.init_g={tmp_path / 'p2p.safetensors'}"))
    make_trainer(tiny_sr_cfg(), "cpu").export(tmp_path / "sr")
    check_init_g(tiny_sr_cfg(f"train.init_g={tmp_path / 'sr.safetensors'}"))


SHIPPED_CARDS = sorted((ROOT / "checkpoints").glob("*.json"))


@pytest.mark.parametrize("card_path", SHIPPED_CARDS, ids=lambda p: p.stem)
def test_the_essential_recipe_is_the_same_recipe(card_path):
    """Only defaults are dropped, so the trimmed recipe validates to exactly the stored one."""
    recipe = yaml.safe_load(json.loads(card_path.read_text(encoding="utf-8"))["recipe_yaml"])
    trimmed = essential_recipe(recipe)
    assert validate_config(trimmed) == validate_config(recipe)
    assert len(yaml.safe_dump(trimmed).splitlines()) < len(yaml.safe_dump(recipe).splitlines())


def test_the_essential_recipe_drops_what_nothing_reads_and_keeps_what_someone_chose():
    dcgan = yaml.safe_load(dump_recipe(load_recipe(CONFIGS / "mnist_dcgan.yaml")))
    data, train = essential_recipe(dcgan)["data"], essential_recipe(dcgan)["train"]
    assert "texture" not in data and "edges" not in data and "toy" not in data and "a" not in data
    assert "gp_weight" not in train and "instance_noise" not in train and "cycle_weight" not in train
    assert data["name"] == "mnist5k" and train["loss"] == "hinge" and "betas" in train
    assert data["clusters"] == 10  # self-conditioning: chosen, so kept
    plain = essential_recipe(yaml.safe_load(dump_recipe(load_recipe(CONFIGS / "mnist_dcgan_plain.yaml"))))
    assert "clusters" not in plain["data"] and plain["train"]["loss"] == "nonsaturating"  # no groups: the default

    chosen = yaml.safe_load(dump_recipe(load_recipe(CONFIGS / "mnist_dcgan.yaml", {
        "data.texture": "grass", "train.loss": "wgan-gp", "model.d_norm": "layer", "train.instance_noise.sigma": 0.1})))
    kept = essential_recipe(chosen)
    assert kept["data"]["texture"] == "grass"                 # not the default: someone chose it
    assert kept["train"]["gp_weight"] == 10.0                 # WGAN-GP reads it, default or not
    assert kept["train"]["instance_noise"]["sigma"] == 0.1

    pix2pix = essential_recipe(yaml.safe_load(dump_recipe(load_recipe(CONFIGS / "pix2pix_photos.yaml"))))
    assert pix2pix["data"]["edges"] == "canny" and "edge_sigma" in pix2pix["data"]   # the paired family reads them
    assert "pixel_weight" in pix2pix["train"]


def test_an_anomaly_recipe_is_trimmed_inside_its_gan_part():
    recipe = yaml.safe_load(dump_recipe(load_recipe(CONFIGS / "anomaly_mnist_0.yaml")))
    trimmed = essential_recipe(recipe)
    assert "texture" not in trimmed["gan"]["data"] and trimmed["gan"]["data"]["classes"] == [0]
    assert trimmed["encoder"] == recipe["encoder"]


@pytest.mark.parametrize("card_path", SHIPPED_CARDS, ids=lambda p: p.stem)
def test_every_shipped_card_and_its_recipe_speak_both_languages(card_path):
    card = json.loads(card_path.read_text(encoding="utf-8"))
    assert card["description"] and card["description_zh"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in card["description_zh"])    # Chinese, not a copy
    assert yaml.safe_load(card["recipe_yaml"])["description_zh"] == card["description_zh"]
    config = CONFIGS / f"{card['name']}.yaml"
    if config.exists():  # cyclegan_digits_nocycle is cyclegan_digits with --set (the Makefile)
        assert load_recipe(config).description_zh == card["description_zh"]
