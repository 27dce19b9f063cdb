"""The Gallery in AppTest: shipped models, a run's timeline, the memorisation check, links."""
import pytest

from apptest_helpers import open_page
from gan_core.recipes import dump_recipe
from gan_core.runs import RunDir, RunIndex, runs_root
from gan_core.train import Trainer
from gan_core.train.callbacks import standard_callbacks


def make_run(name, cfg) -> RunDir:
    """A finished run of `cfg` in the runs root, as the Training page leaves one."""
    run = RunDir.create(name, root=runs_root())
    run.write_config(dump_recipe(cfg))
    Trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False)).fit()
    RunIndex().update(run)
    return run


@pytest.fixture
def trained_run(tiny_dcgan_cfg):
    return make_run("tiny", tiny_dcgan_cfg("train.sample_every=2"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_models_draw_samples(lang):
    at = open_page("views/gallery.py", lang)
    assert len(at.tabs) == 6
    assert [o.split(" · ")[1] for o in at.selectbox(key=f"gal_src__{lang}").options] == ["mnist_cgan", "mnist_dcgan"]
    assert at.selectbox(key=f"gal_label__{lang}").value == "all"  # the conditional model: one row per class
    assert len(at.selectbox(key=f"gal_label__{lang}").options) == 11
    # side by side: the two shipped models with their cards' figures (the conditional one is far closer)
    table = at.dataframe[0].value
    assert list(table["fd_classifier"]) == sorted(table["fd_classifier"]) and len(table) == 2
    assert table["label_accuracy"][0] >= 0.95
    # the memorisation check ran against MNIST-5k: its summary has a number
    assert any(("median distance" in m.value or "中位数" in m.value) and "**" in m.value for m in at.markdown)


def test_link_picks_the_model_and_seed():
    at = open_page("views/gallery.py", gal_src="ckpt:mnist_dcgan", gal_seed="7")
    assert at.selectbox(key="gal_src__en").value == "ckpt:mnist_dcgan"
    assert at.number_input(key="gal_seed").value == 7
    assert "gal_label__en" not in [s.key for s in at.selectbox]  # unconditional: no class choice
    assert "gal_by_code" not in [s.key for s in at.toggle]  # no InfoGAN code either
    at.toggle(key="gal_trunc_on").set_value(True).run()
    assert not at.exception and at.slider(key="gal_psi").value == 1.0


def test_a_run_shows_its_timeline_and_can_be_exported(trained_run):
    at = open_page("views/gallery.py", gal_src=f"run:{trained_run.id}")
    assert at.selectbox(key="gal_src__en").value == f"run:{trained_run.id}"
    assert list(at.select_slider(key="gal_timeline").options) == ["0", "2", "4"]
    assert "gal_export" in [b.key for b in at.get("download_button")]
    assert any(f"gal_src=run:{trained_run.id}" in c.value for c in at.code)


def test_an_infogan_run_shows_one_row_per_code(tiny_dcgan_cfg):
    run = make_run("info", tiny_dcgan_cfg("model.n_codes=4"))
    at = open_page("views/gallery.py", gal_src=f"run:{run.id}")
    at.slider(key="gal_count").set_value(12)
    at.toggle(key="gal_by_code").set_value(True).run()
    assert not at.exception
    assert at.get("image")[0].proto.imgs[0].caption == "Seed 0, one row per code (0 to 3)."
