"""The Gallery in AppTest: shipped models, a run's timeline, the memorisation check, links."""
import json
import re

import pytest
from apptest_helpers import open_page

from gan_core.paths import checkpoints_dir
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
    # the model's card: its description in the page's language, its figures in words
    card = json.loads((checkpoints_dir() / "mnist_cgan.json").read_text(encoding="utf-8"))
    assert card["description" if lang == "en" else "description_zh"] in [m.value for m in at.markdown]
    # one row per class: the slider counts per class and says the total, which is what is drawn
    assert at.slider(key="gal_per_row").value == 3 and "gal_count" not in [s.key for s in at.slider]
    total = "10 rows × 3 = 30 samples" if lang == "en" else "10 行 × 3 = 30 个样本"
    assert total in [c.value for c in at.caption]
    memory = next(m.value for m in at.markdown if "median distance" in m.value or "中位数" in m.value)
    assert re.match(r"(Over all|在全部) 30 ", memory) and "**" in memory  # the memorisation check ran on them
    # side by side: one row per figure, named in words, the cards' values as people read them
    table = at.dataframe[-1].value
    a, b = (c for c in table.columns if c != table.columns[0])
    fd = table[table.iloc[:, 0] == ("Fréchet distance (FD, lower is better)" if lang == "en" else
                                    "Fréchet 距离（FD，越低越好）")].iloc[0]
    cards = [json.loads((checkpoints_dir() / f"{n}.json").read_text(encoding="utf-8")) for n in ("mnist_cgan", "mnist_dcgan")]
    assert [float(fd[a]), float(fd[b])] == [pytest.approx(c["metrics"]["fd_classifier"], abs=0.05) for c in cards]
    accuracy = table[table.iloc[:, 0].str.contains("asked-for digit|所要求数字")].iloc[0]
    assert accuracy[a] == "99.3%" and accuracy[b] == "—"  # an unconditional model is not asked for a digit


def test_link_picks_the_model_and_seed():
    at = open_page("views/gallery.py", gal_src="ckpt:mnist_dcgan", gal_seed="7")
    assert at.selectbox(key="gal_src__en").value == "ckpt:mnist_dcgan"
    assert at.number_input(key="gal_seed").value == 7
    groups = at.selectbox(key="gal_label__en")  # self-conditioned: a choice of the groups it found, not of classes
    assert groups.label == "Group" and groups.options[:2] == ["All groups it found (one row each)", "Group 1"]
    assert "gal_by_code" not in [s.key for s in at.toggle]  # no InfoGAN code
    assert at.slider(key="gal_per_row").label == "Samples per group"  # all groups: one row each
    groups.set_value(0).run()  # one group: then any count
    at.toggle(key="gal_trunc_on").set_value(True).run()
    assert not at.exception and at.slider(key="gal_psi").value == 1.0
    at.slider(key="gal_count").set_value(37).run()  # any count: as many pictures as asked
    assert any("Over all 37 samples" in m.value for m in at.markdown)
    assert at.get("image")[0].proto.imgs[0].caption.startswith("Seed 7")


def test_a_run_shows_its_timeline_and_can_be_exported(trained_run):
    at = open_page("views/gallery.py", gal_src=f"run:{trained_run.id}")
    assert at.selectbox(key="gal_src__en").value == f"run:{trained_run.id}"
    assert list(at.select_slider(key="gal_timeline").options) == ["0", "2", "4"]
    assert "gal_export" in [b.key for b in at.get("download_button")]
    assert any(f"gal_src=run:{trained_run.id}" in c.value for c in at.code)
    # its card, as its export would write it: what it trained on and for how long, its recipe trimmed
    assert any(c.value.startswith("Trained for 4 steps on MNIST-5k") for c in at.caption)
    recipe = next(c.value for c in at.code if "ngf: 4" in c.value)
    assert "texture" not in recipe and "texture: brick" in (trained_run.path / "config.yaml").read_text()


def test_an_infogan_run_shows_one_row_per_code(tiny_dcgan_cfg):
    run = make_run("info", tiny_dcgan_cfg("model.n_codes=4"))
    at = open_page("views/gallery.py", gal_src=f"run:{run.id}")
    at.toggle(key="gal_by_code").set_value(True).run()
    at.slider(key="gal_per_row").set_value(5).run()
    assert not at.exception
    assert at.get("image")[0].proto.imgs[0].caption == "Seed 0, one row per code (0 to 3)."
    assert "4 rows × 5 = 20 samples" in [c.value for c in at.caption]
    assert any("Over all 20 samples" in m.value for m in at.markdown)
