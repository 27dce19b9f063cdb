"""The Train page's form <-> recipe mapping: one module, both directions, the identity round trip."""
import pytest

from gan_core.losses import LOSSES
from gan_core.recipes import LOSS_PRESETS, load_recipe
from ui import train_form
from ui.train_form import ADVANCED, DEFAULTS, data_overrides, form_of, recipe

EMPTY = dict.fromkeys(ADVANCED)
MNIST = data_overrides("mnist5k")


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("conditional", [False, True])
def test_form_recipe_form_is_the_identity_for_every_preset(loss, conditional):
    form = {**DEFAULTS, **EMPTY, "tr_loss": loss, "tr_conditional": conditional}
    cfg = recipe(form, MNIST)
    assert form_of(cfg) == form
    for key, value in LOSS_PRESETS[loss].items():  # the preset is in the recipe
        section, name = key.split(".")
        assert getattr(getattr(cfg, section), name) == value


@pytest.mark.parametrize("changed", [
    {"tr_train_lr_g": 1e-3, "tr_train_k_d": 3, "tr_model_ngf": 8},
    {"tr_loss": "wgan-gp", "tr_beta2": 0.99, "tr_train_seed": 7, "tr_size": 64, "tr_steps": 500},
    {"tr_train_diffaugment": "[translation,cutout]", "tr_model_n_codes": 4, "tr_train_lr_decay": "none"},
    {"tr_loss": "wgan", "tr_train_optimizer": "adam", "tr_batch": 16, "tr_model_nz": 32},
])
def test_changed_settings_survive_the_round_trip(changed):
    form = {**DEFAULTS, **EMPTY, **changed}
    assert form_of(recipe(form, MNIST)) == form


def test_one_beta_keeps_the_presets_other_beta():
    cfg = recipe({**DEFAULTS, **EMPTY, "tr_loss": "wgan-gp", "tr_beta2": 0.99}, MNIST)
    assert cfg.train.betas == (0.0, 0.99)  # beta1 stays WGAN-GP's 0, not Adam's usual 0.5
    assert cfg.model.d_norm == "layer"  # the gradient penalty needs a D without batch norm


def test_values_arrive_typed_and_validated_once():
    form = {**DEFAULTS, **EMPTY, "tr_train_lr_d": 1e-4}
    overrides = train_form.overrides(form, MNIST)
    assert overrides["train.lr_d"] == 1e-4 and isinstance(overrides["train.steps"], int)
    cfg = recipe(form, MNIST)
    assert cfg.train.lr_d == 1e-4 and cfg.train.eval_every == DEFAULTS["tr_steps"] // 10
    assert cfg == load_recipe(train_form.BASE[False], overrides)


def test_uploads_and_torchvision_round_trip():
    form = {**DEFAULTS, **EMPTY, "tr_data": "upload", "tr_colour": True}
    cfg = recipe(form, data_overrides("upload", path="/data/pics.zip"), channels=3, classes=0)
    assert cfg.data.name == "folder" and cfg.data.path == "/data/pics.zip" and cfg.train.eval_every is None
    assert form_of(cfg) == form
    tv = {**DEFAULTS, **EMPTY, "tr_data": "torchvision", "tr_tv": "fashion_mnist"}
    cfg = recipe(tv, data_overrides("torchvision", torchvision="fashion_mnist", root="/data"))
    assert cfg.data.root == "/data" and form_of(cfg) == tv
