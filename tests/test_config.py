import pytest

from gan_core.config import ConfigError
from gan_core.recipes import load_recipe, parse_overrides

ROOT_CONFIGS = __import__("pathlib").Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("path", sorted(ROOT_CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate(path):
    cfg = load_recipe(path)
    assert cfg.name == path.stem


def test_defaults_are_the_dcgan_recipe():
    cfg = load_recipe()
    assert cfg.model.arch == "dcgan" and cfg.train.loss == "nonsaturating"
    assert cfg.train.betas == (0.5, 0.999) and cfg.train.lr_d == 2e-4 and cfg.train.k_d == 1


def test_overrides_parse_yaml_scalars():
    assert parse_overrides(["train.lr_d=1e-4", "model.ngf=32", "train.amp=false", "name=x"]) == {
        "train.lr_d": 1e-4, "model.ngf": 32, "train.amp": False, "name": "x"}
    cfg = load_recipe(None, ["train.steps=7", "train.betas=[0.0, 0.9]"])
    assert cfg.train.steps == 7 and cfg.train.betas == (0.0, 0.9)


def test_unknown_key_names_the_key_and_allowed_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lerning_rate: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(bad)
    msg = str(e.value)
    assert "unknown key 'train.lerning_rate'" in msg
    assert "lr_d" in msg and "lr_g" in msg  # the allowed keys are listed


def test_bad_value_lists_allowed_values():
    with pytest.raises(ConfigError, match="train.loss: Input should be 'minimax', 'nonsaturating'"):
        load_recipe(None, ["train.loss=wgan_gp"])
    with pytest.raises(ConfigError, match=r"model.arch: got 'unet'; allowed: 'dcgan', 'mlp'"):
        load_recipe(None, ["model.arch=unet"])
    with pytest.raises(ConfigError, match="model.img_size"):
        load_recipe(None, ["model.img_size=30"])
    with pytest.raises(ConfigError, match="train.batch_size"):
        load_recipe(None, ["train.batch_size=0"])


def test_inconsistent_recipes_are_refused():
    with pytest.raises(ConfigError, match="batch norm"):
        load_recipe(None, ["train.loss=wgan-gp"])
    load_recipe(None, ["train.loss=wgan-gp", "model.d_norm=layer"])
    with pytest.raises(ConfigError, match="clip_value"):
        load_recipe(None, ["train.clip_value=0.01"])
    with pytest.raises(ConfigError, match="toy"):
        load_recipe(None, ["data.name=toy"])
    with pytest.raises(ConfigError, match="data.root is required"):
        load_recipe(None, ["data.name=cifar10"])
    with pytest.raises(ConfigError, match="InfoGAN code"):
        load_recipe(ROOT_CONFIGS / "anomaly_mnist_0.yaml", ["gan.model.n_codes=4"])


def test_files_that_are_not_recipes(tmp_path):
    with pytest.raises(ConfigError, match="no such recipe"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_recipe(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("train: {loss: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match="key=value"):
        load_recipe(None, ["train.steps"])


def test_classifier_recipe_has_its_own_schema():
    cfg = load_recipe(ROOT_CONFIGS / "mnist_classifier.yaml")
    assert cfg.task == "classifier"
    with pytest.raises(ConfigError, match="unknown key 'train.loss'"):
        load_recipe(ROOT_CONFIGS / "mnist_classifier.yaml", ["train.loss=hinge"])
