"""Figures in words: names from the locale catalogs, values as a person reads them."""
import json

import pytest
import streamlit as st

from gan_core.paths import REPO
from ui import model_card
from ui.metric_names import format_metric, metric_label
from ui.models import LOADERS, loader_kind


@pytest.fixture
def lang():
    def use(code: str) -> None:
        st.session_state["lang"] = code
    yield use
    st.session_state.pop("lang", None)


@pytest.mark.parametrize("key, value, shown", [
    ("precision", 0.974, "97.4%"), ("label_accuracy", 1.0, "100.0%"), ("encoder.f1", 0.9375, "93.8%"),
    ("fd", 43712.3, "43,712"), ("kid", 6.14e7, "61,400,000"), ("fd_samples", 4500, "4,500"),
    ("psnr_y", 27.5235, "27.52 dB"), ("gain_db", 0.856, "+0.86 dB"), ("gain_db", -0.2, "-0.20 dB"),
    ("fd_ratio_to_baseline", 12.15, "12.2×"), ("cycle_error_a", 0.0269, "0.0269"), ("UPC", 3.1342, "3.13"),
    ("kid", 0.00123, "0.0012"), ("fd", float("nan"), "—"), ("fd_reference", "mnist5k/test", "mnist5k/test"),
    ("precision", 3.0, "3.00"),  # not a share after all: shown as the number it is
])
def test_values_read_as_people_write_them(key, value, shown):
    assert format_metric(key, value) == shown


def test_names_in_both_languages_for_derived_keys(lang):
    assert metric_label("kid_train_vs_test").startswith("KID of real train")
    assert metric_label("precision_train_vs_test") == "precision of real test digits"
    assert metric_label("EB_S") == "empty bars (S)" and metric_label("TD_SA").endswith("(SA)")
    encoder = metric_label("encoder.auroc")
    assert encoder.startswith("AUROC") and encoder.endswith("· fast encoder")
    assert metric_label("not_a_metric") == "not_a_metric"
    english = metric_label("recall")
    lang("zh")
    assert metric_label("recall") != english and "召回率" in metric_label("recall")
    assert metric_label("anogan.auroc").endswith("AnoGAN 搜索")
    assert "砖墙纹理" in model_card.trained_on(_card("anomaly_brick"))


def _card(name: str) -> dict:
    return json.loads((REPO / "checkpoints" / f"{name}.json").read_text(encoding="utf-8"))


def test_a_card_summary_says_what_where_and_how_good(lang):
    cgan = _card("mnist_cgan")
    assert model_card.trained_on(cgan).startswith(f"Trained for {cgan['step']:,} steps on MNIST-5k")
    line = model_card.quality(cgan)
    assert "99.3%" in line and "precision" in line and "label_accuracy" not in line
    detector = model_card.quality(_card("anomaly_mnist_0"))
    assert "fast encoder AUROC: **0.985**" in detector and "AnoGAN search AUROC: **0.983**" in detector
    assert model_card.description(cgan) == cgan["description"]
    lang("zh")
    assert model_card.description(cgan) == cgan["description_zh"]
    assert model_card.trained_on(cgan).startswith("在MNIST-5k")
    assert model_card.description({"description": "imported"}) == "imported"   # no translation: English


def test_a_texture_detector_names_its_texture():
    assert "brick texture" in model_card.trained_on(_card("anomaly_brick"))
    assert model_card.trained_on(_card("anomaly_mnist_0")).endswith("only its 0.")
    assert metric_label("encoder.recall").startswith("recall (share of anomalies flagged)")
    assert format_metric("encoder.auroc", 0.6) == "0.600"
    assert "never paired" in model_card.trained_on(_card("cyclegan_digits"))


@pytest.mark.parametrize("card_path", sorted((REPO / "checkpoints").glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_card_has_a_loader(card_path):
    card = json.loads(card_path.read_text(encoding="utf-8"))
    expected = {"anomaly": "detector", "classifier": "classifier"}.get(card["kind"])
    kind = loader_kind(card)
    assert kind in LOADERS and (expected is None or kind == expected)
    if card["name"].startswith("sr_"):
        assert kind == "upscaler"
