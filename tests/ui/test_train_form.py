"""The Train page's form <-> recipe mapping: one module, both directions, the identity round trip."""
import pytest
import torch

from gan_core.losses import LOSSES
from gan_core.recipes import LOSS_PRESETS, load_recipe
from ui import train_form
from ui.train_form import (
    ADVANCED,
    CYCLE_DEFAULTS,
    DCGAN_ONLY,
    DEFAULTS,
    NotInForm,
    cycle_data,
    data_overrides,
    form_of,
    not_kept,
    recipe,
)

EMPTY = dict.fromkeys(ADVANCED)
MNIST = data_overrides("mnist5k")
DCGAN = {**DEFAULTS, **EMPTY}
# a CycleGAN's form: its own keys, the advanced settings it has (no noise, codes or DiffAugment)
CYCLE = {"tr_name": "cycle", "tr_model": "cyclegan", "tr_track": False, **CYCLE_DEFAULTS,
         **{k: None for k in ADVANCED if k not in DCGAN_ONLY}}
UPLOADS = {"tr_cg_kept_a": "/data/uploads/horses.zip", "tr_cg_kept_b": "/data/uploads/zebras.zip"}


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("model", ["dcgan", "conditional"])
def test_form_recipe_form_is_the_identity_for_every_preset(loss, model):
    form = {**DCGAN, "tr_loss": loss, "tr_model": model}
    cfg = recipe(form, MNIST)
    assert form_of(cfg) == form
    assert bool(cfg.model.n_classes) == (model == "conditional")
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
    form = {**DCGAN, **changed}
    cfg = recipe(form, MNIST)
    assert form_of(cfg) == form and not_kept(cfg, form) == []


@pytest.mark.parametrize("form, data", [({**DCGAN, "tr_track": True}, MNIST),
                                        ({**CYCLE, "tr_track": True}, cycle_data("builtin"))])
def test_tracking_in_mlflow_round_trips_and_leaves_the_server_to_the_operator(form, data):
    cfg = recipe(form, data)
    assert cfg.train.track == "mlflow" and cfg.train.tracking_uri is None
    assert form_of(cfg) == form and not_kept(cfg, form) == []
    assert recipe({**form, "tr_track": False}, data).train.track == "none"
    # a run tracked to a server of its own (from the command line): the form tracks to the operator's
    own = load_recipe(train_form.BASE["dcgan"], {"train.track": "mlflow", "train.tracking_uri": "http://mlflow.lab"})
    assert form_of(own)["tr_track"] is True
    assert "train.tracking_uri: http://mlflow.lab -> None" in not_kept(own, form_of(own))


def test_one_beta_keeps_the_presets_other_beta():
    cfg = recipe({**DCGAN, "tr_loss": "wgan-gp", "tr_beta2": 0.99}, MNIST)
    assert cfg.train.betas == (0.0, 0.99)  # beta1 stays WGAN-GP's 0, not Adam's usual 0.5
    assert cfg.model.d_norm == "layer"  # the gradient penalty needs a D without batch norm


def test_values_arrive_typed_and_validated_once():
    form = {**DCGAN, "tr_train_lr_d": 1e-4}
    overrides = train_form.overrides(form, MNIST)
    assert overrides["train.lr_d"] == 1e-4 and isinstance(overrides["train.steps"], int)
    cfg = recipe(form, MNIST)
    assert cfg.train.lr_d == 1e-4 and cfg.train.eval_every == DEFAULTS["tr_steps"] // 10
    assert cfg == load_recipe(train_form.BASE["dcgan"], overrides)


def test_uploads_and_torchvision_round_trip():
    form = {**DCGAN, "tr_data": "upload", "tr_colour": True, "tr_kept_zip": "/data/pics.zip"}
    cfg = recipe(form, data_overrides("upload", path="/data/pics.zip"), channels=3, classes=0)
    assert cfg.data.name == "folder" and cfg.data.path == "/data/pics.zip" and cfg.train.eval_every is None
    assert form_of(cfg) == form  # the stored zip comes back as the kept one: Clone reuses it
    tv = {**DCGAN, "tr_data": "torchvision", "tr_tv": "fashion_mnist"}
    cfg = recipe(tv, data_overrides("torchvision", torchvision="fashion_mnist", root="/data"))
    assert cfg.data.root == "/data" and form_of(cfg) == tv


def test_a_run_is_described_by_what_it_trains_on_in_both_languages():
    """A form-made run kept its base recipe's description ("... trained on MNIST-5k") whatever it trained
    on; the Gallery shows that text on the run's card."""
    upload = data_overrides("upload", path="/runs/uploads/0123456789abcdef-cats.zip")
    cfg = recipe({**DCGAN, "tr_model": "conditional", "tr_data": "upload", "tr_size": 32}, upload, channels=3,
                 classes=2)
    assert cfg.description.startswith("Conditional DCGAN")
    assert "32x32 colour pictures, trained on cats.zip" in cfg.description
    assert cfg.description_zh.startswith("条件 DCGAN") and "32x32 彩色图片，在 cats.zip 上训练" in cfg.description_zh
    plain = recipe(DCGAN, MNIST)
    assert plain.description.startswith("DCGAN, 28x28 greyscale pictures, trained on MNIST-5k")
    assert plain.description_zh.startswith("DCGAN，28x28 灰度图片，在 MNIST-5k 上训练")


def fake_cpus(tmp_path, cores: list[tuple[int, int]]):
    """A /sys/devices/system/cpu with one cpuN/topology per (package, core) given."""
    for i, (package, core) in enumerate(cores):
        topology = tmp_path / f"cpu{i}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text(f"{package}\n")
        (topology / "core_id").write_text(f"{core}\n")
    return tmp_path


def test_a_training_job_gets_one_thread_per_physical_core_unless_told(tmp_path, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    hyper = fake_cpus(tmp_path, [(0, 0), (0, 1), (0, 0), (0, 1)])  # 2 cores, 2 hyper-threads each
    assert train_form.training_threads({}, hyper) == 2
    assert train_form.training_threads({"OMP_NUM_THREADS": "1"}, hyper) == 1
    assert train_form.training_threads({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "3"}, hyper) == 3
    assert train_form.training_threads({"OMP_NUM_THREADS": "16"}, hyper) == 4  # torch keeps to the usable CPUs
    assert train_form.training_threads({"OMP_NUM_THREADS": "lots"}, hyper) == 2
    assert train_form.training_threads({}, tmp_path / "nothing") == 4  # no topology: every usable CPU a core


# ---------------------------------------------------------------- CycleGAN


@pytest.mark.parametrize("pair", ["digits", "strokes"])
def test_a_built_in_pair_round_trips(pair):
    form = {**CYCLE, "tr_cg_pair": pair}
    cfg = recipe(form, cycle_data("builtin", pair))
    m, d, t = cfg.model, cfg.data, cfg.train
    assert m.arch == "cyclegan" and d.name == "unpaired" and not d.flip
    assert (m.img_size, m.channels_a, m.channels_b, m.n_blocks, m.ngf, m.ndf, m.n_layers) == (32, 1, 1, 6, 16, 32, 2)
    assert (t.loss, t.cycle_weight, t.identity_weight, t.steps, t.batch_size) == ("lsgan", 10.0, 0.5, 3000, 32)
    assert t.lr_decay == "linear" and t.lr_decay_start == 1500 and t.pool_size == 50
    if pair == "strokes":  # two halves of MNIST-5k: no digit on both sides
        assert (d.a.name, d.a.half, d.b.name, d.b.half) == ("mnist5k_strokes", "even", "mnist5k", "odd")
    else:
        assert (d.a.name, d.b.name) == ("mnist5k", "uci_digits")
    assert form_of(cfg) == form and not_kept(cfg, form) == []


@pytest.mark.parametrize("changed", [
    {"tr_cg_size": 128, "tr_cg_blocks": 9, "tr_cg_batch": 1, "tr_cg_steps": 500},
    {"tr_cg_cycle": 0.0, "tr_cg_identity": 0.0, "tr_cg_loss": "nonsaturating"},
    {"tr_cg_loss": "wgan-gp", "tr_beta2": 0.99, "tr_train_seed": 3, "tr_model_ngf": 8},
    {"tr_train_lr_decay": "none", "tr_train_lr_g": 1e-4, "tr_train_k_d": 2, "tr_cg_size": 64},
])
def test_cyclegan_settings_on_uploads_survive_the_round_trip(changed):
    form = {**CYCLE, **UPLOADS, "tr_cg_data": "upload", **changed}
    form.pop("tr_cg_pair")
    cfg = recipe(form, cycle_data("upload", a=UPLOADS["tr_cg_kept_a"], b=UPLOADS["tr_cg_kept_b"]), channels=(3, 1))
    d = cfg.data
    assert (d.a.name, d.a.path, d.b.path, d.flip) == ("folder", "/data/uploads/horses.zip", "/data/uploads/zebras.zip",
                                                      True)
    # a colour A beside a greyscale B: both in colour while the identity term compares them across
    expected = (3, 1) if form["tr_cg_identity"] == 0 else (3, 3)
    assert (cfg.model.channels_a, cfg.model.channels_b) == expected
    assert cfg.description.startswith("CycleGAN between horses.zip and zebras.zip")
    assert cfg.description_zh.startswith("horses.zip 与 zebras.zip 之间的 CycleGAN")
    assert form_of(cfg) == form and not_kept(cfg, form) == []


def test_the_nets_follow_the_size_unless_a_width_is_given():
    sizes = {s: recipe({**CYCLE, "tr_cg_size": s}, cycle_data("builtin")).model for s in (32, 64, 128, 256)}
    assert [(m.ngf, m.ndf, m.n_layers) for m in sizes.values()] == [(16, 32, 2), (32, 64, 3), (64, 64, 3), (64, 64, 3)]
    assert recipe({**CYCLE, "tr_cg_size": 128, "tr_model_ndf": 16}, cycle_data("builtin")).model.ndf == 16


def test_dcgan_settings_never_reach_a_cyclegan_recipe():
    # the session keeps the DCGAN's noise size, code and DiffAugment while a CycleGAN is chosen
    form = {**DCGAN, **CYCLE, "tr_model_nz": 32, "tr_model_n_codes": 4, "tr_train_diffaugment": "[cutout]"}
    cfg = recipe(form, cycle_data("builtin"))
    assert cfg.model.arch == "cyclegan" and cfg.train.diffaugment == ()


def test_the_shipped_recipe_clones_and_says_what_the_form_does_not_keep():
    cfg = load_recipe(train_form.BASE["cyclegan"], {"train.pool_size": 20, "model.dropout": True})
    form = form_of(cfg)
    assert form["tr_model"] == "cyclegan" and form["tr_cg_pair"] == "digits" and form["tr_cg_size"] == 32
    lost = not_kept(cfg, form)
    assert "train.pool_size: 20 -> 50" in lost and "model.dropout: True -> False" in lost
    assert "train.sample_every: 250 -> 150" in lost  # the form's intervals follow the steps


def test_what_the_form_cannot_make_is_refused_with_a_reason():
    mixed = load_recipe(train_form.BASE["cyclegan"], {"data.a": {"name": "uci_digits"},
                                                      "data.b": {"name": "folder", "path": "/data/b.zip"}})
    with pytest.raises(NotInForm, match="uci_digits <-> b.zip"):
        form_of(mixed)
    with pytest.raises(NotInForm, match="pix2pix"):
        form_of(load_recipe(train_form.CONFIGS / "pix2pix_digits.yaml"))


def test_an_odd_size_or_batch_comes_back_as_the_default_and_is_named():
    odd = load_recipe(train_form.BASE["cyclegan"], {"model.img_size": 96, "train.batch_size": 3})
    form = form_of(odd)
    assert form["tr_cg_size"] == 32 and form["tr_cg_batch"] == 32  # the widgets' options: the pair's defaults
    lost = not_kept(odd, form)
    assert "model.img_size: 96 -> 32" in lost and "train.batch_size: 3 -> 32" in lost


def test_the_identity_term_needs_the_same_channels_on_both_sides():
    assert train_form.cycle_channels((1, 3), 0.5) == (3, 3) and train_form.cycle_channels((1, 3), 0.0) == (1, 3)
    assert train_form.cycle_channels((1, 1), 0.5) == (1, 1)
    cfg = recipe({**CYCLE, "tr_cg_data": "upload", "tr_cg_identity": 0.0}, cycle_data("upload", a="/a.zip", b="/b.zip"),
                 channels=(1, 3))
    assert (cfg.model.channels_a, cfg.model.channels_b, cfg.train.identity_weight) == (1, 3, 0.0)


def test_channels_are_one_when_every_picture_is_grey():
    grey = torch.full((3, 3, 8, 8), 100, dtype=torch.uint8)
    assert train_form.inferred_channels(grey) == 1
    grey[0, 0, 0, 0] += 3  # what JPEG leaves in a grey picture
    assert train_form.inferred_channels(grey) == 1
    grey[1, 2, 4, 4] = 200
    assert train_form.inferred_channels(grey) == 3
