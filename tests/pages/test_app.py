"""Every page through Streamlit's AppTest, in both languages, on the shipped checkpoints."""
import re
from pathlib import Path

import pytest

from apptest_helpers import app
from ui.i18n import LANGUAGES, catalog

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "views").glob("*.py"))


def test_catalogs_have_the_same_keys():
    parts = {p.name.split(".")[0] for p in (ROOT / "ui" / "locales").glob("*.yaml")}
    for part in parts:  # every part exists in both languages
        assert all((ROOT / "ui" / "locales" / f"{part}.{lang}.yaml").exists() for lang in LANGUAGES), part
    en, zh = catalog("en"), catalog("zh")
    assert set(en) == set(zh), f"only in en: {set(en) - set(zh)}; only in zh: {set(zh) - set(en)}"
    for key in en:  # same placeholders in both languages
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", zh[key])), key


def test_every_key_used_in_code_exists():
    sources = [ROOT / "app.py", *ROOT.glob("views/*.py"), *ROOT.glob("ui/*.py")]
    used = {m for src in sources for m in re.findall(r"""\bt\(\s*["']([\w.]+)["']""", src.read_text())}
    assert used, "no t() calls found"
    missing = used - set(catalog("en"))
    assert not missing, f"keys used in code but missing from ui/locales/*.en.yaml: {missing}"


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page, lang):
    at = app(lang)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} has no title"
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", at.title[0].value + "".join(m.value for m in at.markdown))


def test_language_switch():
    at = app()
    at.run()
    assert at.subheader[0].value == "The GAN game"
    at.button_group(key="lang").set_value("zh").run()
    assert at.subheader[0].value == "GAN 博弈"


def test_language_change_keeps_the_choices():
    at = app()
    at.run()
    at.switch_page("views/generate.py").run()
    at.number_input(key="gen_seed").set_value(42).run()
    at.selectbox(key="gen_label__en").set_value("3").run()
    at.session_state["lang"] = "zh"
    at.run()
    assert at.title[0].value == "生成"
    assert at.number_input(key="gen_seed").value == 42 and at.selectbox(key="gen_label__zh").value == "3"
    assert "种子 42" in at.get("image")[0].proto.imgs[0].caption


def test_home_shows_the_game_and_a_live_demo():
    at = app()
    at.run()
    latex = " ".join(e.value for e in at.latex)
    assert r"\min_G \max_D V(D,G)" in latex and "D^*(x)" in latex
    assert len(at.get("image")) == 1  # digits drawn by the shipped conditional model


def test_generate_main_path():
    at = app()
    at.run()
    at.switch_page("views/generate.py").run()
    assert at.selectbox(key="gen_model").options == ["mnist_cgan", "mnist_dcgan"]
    assert at.selectbox(key="gen_model").value == "mnist_cgan"
    assert len(at.get("image")) == 1
    assert at.get("download_button")
    at.selectbox(key="gen_label__en").set_value("7").run()
    at.slider(key="gen_n").set_value(9).run()
    assert not at.exception
    caption = at.get("image")[0].proto.imgs[0].caption
    assert caption.startswith("9 images, seed 0")
    at.button[0].click().run()  # new seed
    assert at.number_input(key="gen_seed").value != 0
    at.selectbox(key="gen_model").set_value("mnist_dcgan").run()
    assert not at.exception
    # self-conditioned: no classes, but the groups it found by itself, explained
    groups = at.selectbox(key="gen_label__en")
    assert groups.label == "Group" and "never saw a label" in groups.help
    assert groups.options[0] == "All groups it found (one column each)" and groups.options[1:3] == ["Group 1", "Group 2"]
    groups.set_value("all").run()
    assert at.get("image")[0].proto.imgs[0].caption.startswith("9 images, seed")


def test_generate_without_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = app()
    at.run()
    at.switch_page("views/generate.py").run()
    assert not at.exception
    assert "No generator checkpoints found" in at.warning[0].value


def test_generate_with_a_damaged_checkpoint(tmp_path, monkeypatch):
    """A tampered weights file shows a clear message, not a traceback."""
    src = ROOT / "checkpoints"
    for suffix in (".safetensors", ".json"):
        (tmp_path / f"mnist_dcgan{suffix}").write_bytes((src / f"mnist_dcgan{suffix}").read_bytes())
    blob = bytearray((tmp_path / "mnist_dcgan.safetensors").read_bytes())
    blob[-10] ^= 0xFF
    (tmp_path / "mnist_dcgan.safetensors").write_bytes(bytes(blob))
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = app()
    at.run()
    at.switch_page("views/generate.py").run()
    assert not at.exception
    assert "cannot be used" in at.error[0].value and "do not match their model card" in at.error[0].value
