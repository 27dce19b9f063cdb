"""The Anomaly detection page in AppTest: shipped detectors on their built-in test sets, both
methods, the automatic and the manual threshold, textures' pixel AUROC, and broken detectors."""
import json
import os
import shutil
from pathlib import Path

import pytest

from apptest_helpers import open_page

CHECKPOINTS = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or Path(__file__).resolve().parents[2] / "checkpoints")


def metric(at, label: str) -> float:
    return float(next(m.value for m in at.metric if m.label == label))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_digit_detector_on_its_test_set(lang):
    at = open_page("views/anomaly.py", lang, a_detector="anomaly_mnist_0")
    assert at.selectbox(key=f"a_detector__{lang}").value == "anomaly_mnist_0"
    assert metric(at, "AUROC") > 0.9                       # the encoder tells zeros from other digits
    groups = at.dataframe[1].value
    assert len(groups) == 10 and groups.iloc[0, 2] == False  # noqa: E712  (digit 0 is the normal one)
    cm = at.dataframe[0].value
    assert int(cm.iloc[:, 1:].to_numpy().sum()) == 500
    assert "a_csv_test" in [b.key for b in at.get("download_button")]


def test_a_manual_threshold_moves_the_confusion_matrix():
    at = open_page("views/anomaly.py", a_detector="anomaly_mnist_0")
    auto_recall = metric(at, "Recall")
    at.radio(key="a_mode").set_value("manual").run()
    top = at.slider(key="a_thr_encoder").max
    at.slider(key="a_thr_encoder").set_value(top).run()
    assert not at.exception
    assert metric(at, "Recall") == 0.0 < auto_recall       # nothing scores that high: nothing is flagged
    cm = at.dataframe[0].value
    assert cm.iloc[1, 2] == 0 and cm.iloc[0, 1] == 50      # all 50 zeros called normal


def test_the_latent_search_runs_only_when_asked():
    at = open_page("views/anomaly.py", a_detector="anomaly_mnist_0")
    at.radio(key="a_method").set_value("anogan").run()
    assert any("takes a while" in i.value for i in at.info) and not at.metric
    at.slider(key="a_steps").set_value(50).run()
    at.toggle(key="a_test_search").set_value(True).run()
    assert not at.exception and metric(at, "AUROC") > 0.8


def test_a_texture_detector_reports_pixel_auroc():
    at = open_page("views/anomaly.py", a_detector="anomaly_grass")
    groups = at.dataframe[1].value
    assert sorted(groups.iloc[:, 0]) == ["cutpaste", "foreign", "normal", "scratch"]
    assert 0.5 < metric(at, "Pixel AUROC (defect masks)") <= 1.0


def test_without_an_automatic_threshold_the_page_asks_for_one(tmp_path, monkeypatch):
    for ext in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"anomaly_mnist_0{ext}", tmp_path / f"anomaly_mnist_0{ext}")
    card = json.loads((tmp_path / "anomaly_mnist_0.json").read_text())
    card["thresholds"], card["validation"] = {}, {"note": "choosing a threshold needs normal and anomalous "
                                                          "examples; these labels have no anomalous ones"}
    (tmp_path / "anomaly_mnist_0.json").write_text(json.dumps(card))
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/anomaly.py")
    assert any("no anomalous ones" in w.value for w in at.warning)
    assert at.slider(key="a_thr_encoder").value == 1.0


def test_broken_and_missing_detectors_are_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/anomaly.py")
    assert "configs/anomaly_mnist_0.yaml" in at.warning[0].value
    for ext in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"anomaly_mnist_0{ext}", tmp_path / f"anomaly_mnist_0{ext}")
    card = json.loads((tmp_path / "anomaly_mnist_0.json").read_text())
    card["model"]["ngf"] = 64                              # a detector of another architecture
    (tmp_path / "anomaly_mnist_0.json").write_text(json.dumps(card))
    at = open_page("views/anomaly.py")
    assert len(at.error) == 1 and "shape mismatches" in at.error[0].value and not at.tabs
