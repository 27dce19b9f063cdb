"""The Anomaly detection page in AppTest: it opens on the strongest detector with the texture
experiments after it, sample pictures in one click, shipped detectors on their built-in test sets,
both methods, the automatic and the manual threshold, textures' pixel AUROC, and broken detectors."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from apptest_helpers import open_page
from ui.anomaly_plots import false_alarms, ranked, strength

CHECKPOINTS = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or Path(__file__).resolve().parents[2] / "checkpoints")


SHIPPED = ["anomaly_brick", "anomaly_grass", "anomaly_gravel", "anomaly_mnist_0"]


def metric(at, label: str) -> float:
    return float(next(m.value for m in at.metric if m.label == label))


def picker(at, lang: str = "en"):
    return at.selectbox(key=f"a_detector__{lang}")


def groups_table(at):
    """The per-group table of the built-in test set (the last data grid: the model card's comes first)."""
    return at.dataframe[-1].value


def card(name: str) -> dict:
    return json.loads((CHECKPOINTS / f"{name}.json").read_text())


def sample_verdicts(at) -> list[tuple[float, bool, bool]]:
    """(score, truly anomalous, called right) of each sample picture shown."""
    out = []
    for m in at.markdown:
        found = re.search(r"truly (normal|anomalous)\): score ([\d.e+-]+) → .*(✓ right|✗ wrong)", m.value)
        if found:
            out.append((float(found[2]), found[1] == "anomalous", found[3] == "✓ right"))
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_opens_on_the_digit_detector_with_its_test_set_and_the_experiments_after_it(lang):
    at = open_page("views/anomaly.py", lang)
    assert picker(at, lang).value == "anomaly_mnist_0"
    assert metric(at, "AUROC") > 0.9                       # the encoder tells zeros from other digits
    groups = groups_table(at)
    assert len(groups) == 10 and groups.iloc[0, 2] == False  # noqa: E712  (digit 0 is the normal one)
    cm = at.table[0].value
    assert cm.shape == (2, 2) and int(cm.to_numpy().sum()) == 500
    assert "a_csv_test" in [b.key for b in at.get("download_button")]
    # strong first, then the texture experiments by their best AUROC, each labelled from its card
    cards = {n: card(n) for n in SHIPPED}
    assert ranked(cards)[0] == "anomaly_mnist_0"
    labels = picker(at, lang).options
    assert [label.split(" · ")[0] for label in labels] == ranked(cards)
    if lang == "en":                                      # (outside the page, strength() speaks English)
        assert labels == [f"{n} · {strength(cards[n])}" for n in ranked(cards)]
    brick = cards["anomaly_brick"]["validation"]
    span = sorted(f"{brick[m]['auroc']:.2f}" for m in ("encoder", "anogan"))
    assert {"en": f"anomaly_brick · experiment, close to chance (image AUROC {span[0]}–{span[1]})",
            "zh": f"anomaly_brick · 实验，接近随机猜测（图像级 AUROC {span[0]}–{span[1]}）"}[lang] in labels
    assert not any(w in labels[0] for w in ("experiment", "实验"))
    description = {"en": "Digit 0 is normal", "zh": "以数字 0 为正常"}[lang]  # the card's own, in the page's language
    assert any(m.value.startswith(description) for m in at.markdown)
    assert any({"en": "Further down the list: anomaly_gravel", "zh": "列表下方还有：anomaly_gravel"}[lang] in c.value
               for c in at.caption)
    assert at.radio(key=f"a_method__{lang}").value == "encoder"                  # the fast way by default
    assert any(e.label.startswith({"en": "Model card", "zh": "模型卡"}[lang]) for e in at.expander)  # the raw card


def test_sample_pictures_in_one_click_and_a_texture_experiment_in_its_card_figures():
    at = open_page("views/anomaly.py")
    assert not sample_verdicts(at)
    at.button(key="a_samples_on").click().run()
    assert not at.exception
    verdicts = sample_verdicts(at)
    normal = [s for s, odd, _ in verdicts if not odd]
    anomalous = [s for s, odd, _ in verdicts if odd]
    assert len(normal) == len(anomalous) == 3
    assert min(anomalous) > max(normal)                   # every other digit scores above every zero
    assert all(right for *_, right in verdicts)           # and the automatic threshold calls all six right
    assert any("3 normal (digit 0) and 3 anomalous (digit 1, digit 5, digit 9)" in c.value for c in at.caption)
    at.button(key="a_samples_off").click().run()
    assert not sample_verdicts(at) and at.button(key="a_samples_on")
    at.button(key="a_samples_on").click().run()
    picker(at).set_value("anomaly_brick").run()           # a texture's samples: normal patches and defects
    kinds = [m.value for m in at.markdown if "truly" in m.value]
    assert len(kinds) == 6 and sum("(truly normal)" in k for k in kinds) == 3
    assert {"cut and paste", "foreign texture", "scratch"} == {re.search(r"\((.+), truly", k)[1] for k in kinds[3:]}
    enc = card("anomaly_brick")["validation"]["encoder"]
    flagged = enc["recall"] * enc["n_anomalous"] * (1 - enc["precision"]) / enc["precision"] / enc["n_normal"]
    note = at.warning[0].value                            # the experiment, said in its card's figures
    assert note.startswith("An experiment, not yet a working detector.")
    assert f"{enc['auroc']:.2f} with the encoder" in note
    assert f"flags {100 * flagged:.0f}% of the normal pictures" in note and "choose anomaly_mnist_0" in note
    assert false_alarms({"precision": 0.5, "recall": 1.0, "n_anomalous": 200, "n_normal": 200}) == 1.0
    assert false_alarms({"auroc": 0.9}) is None


def test_a_manual_threshold_moves_the_confusion_matrix():
    at = open_page("views/anomaly.py", a_detector="anomaly_mnist_0")
    auto_recall = metric(at, "Recall")
    at.radio(key="a_mode__en").set_value("manual").run()
    top = at.slider(key="a_thr_encoder").max
    at.slider(key="a_thr_encoder").set_value(top).run()
    assert not at.exception
    assert metric(at, "Recall") == 0.0 < auto_recall       # nothing scores that high: nothing is flagged
    cm = at.table[0].value
    assert cm.iloc[1, 1] == 0 and cm.iloc[0, 0] == 50      # all 50 zeros called normal
    assert any("0 of the 50 normal pictures are flagged" in c.value and "450 of the 450 anomalous ones are missed"
               in c.value for c in at.caption)


def test_the_latent_search_runs_only_when_asked(monkeypatch):
    import gan_core.apps.anomaly as anomaly
    whole = anomaly.builtin_test_set

    def every_fifth(det):
        """Ten digits of each class instead of fifty: the search costs a fifth (the suite's slowest test)."""
        test = whole(det)
        return anomaly.TestSet(test.x[::5], test.labels[::5], test.groups[::5], None, test.name)
    monkeypatch.setattr(anomaly, "builtin_test_set", every_fifth)   # the page imports it on every run
    at = open_page("views/anomaly.py")
    at.radio(key="a_method__en").set_value("anogan").run()
    assert any("takes minutes" in i.value for i in at.info) and not at.metric
    at.slider(key="a_steps").set_value(50).run()
    at.toggle(key="a_test_search").set_value(True).run()
    assert not at.exception and metric(at, "AUROC") > 0.8
    assert len(groups_table(at)) == 10 and int(at.table[0].value.to_numpy().sum()) == 100
    def timings():
        return {key: r["seconds"] for key, r in at.session_state["a_scores"].items()}
    searched = timings()
    assert [key[3] for key in searched] == ["encoder", "anogan"]
    at.radio(key="a_mode__en").set_value("manual").run()          # a threshold moved: no search again
    assert timings() == searched


def test_a_texture_detector_reports_pixel_auroc():
    at = open_page("views/anomaly.py", a_detector="anomaly_grass")
    groups = groups_table(at)
    assert sorted(groups.iloc[:, 0]) == ["cut and paste", "foreign texture", "normal", "scratch"]
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


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _png(value: int) -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("L", (28, 28), value).save(buf, "PNG")
    return buf.getvalue()


def test_a_detector_trained_in_a_run_is_offered_beside_the_shipped_ones(monkeypatch, tmp_path):
    from gan_core.runs import RunDir
    run = RunDir.create("zeros", root=tmp_path / "runs")
    shutil.copy(CHECKPOINTS / "anomaly_mnist_0.safetensors", run.path / "detector.safetensors")
    card = json.loads((CHECKPOINTS / "anomaly_mnist_0.json").read_text())
    card["name"] = "my_zeros"
    (run.path / "detector.json").write_text(json.dumps(card))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    at = open_page("views/anomaly.py", a_detector="my_zeros")
    assert picker(at).value == "my_zeros"
    # as strong as the shipped one (the same card figures): beside it, before the experiments
    assert [o.split(" · ")[0] for o in picker(at).options[:2]] == ["anomaly_mnist_0", "my_zeros"]
    assert metric(at, "AUROC") > 0.9                                 # the same weights as the shipped one
    del card["description_zh"]                                       # trained before cards had one
    (run.path / "detector.json").write_text(json.dumps(card))
    at = open_page("views/anomaly.py", "zh", a_detector="my_zeros")
    assert any(m.value.startswith("数字 0 是正常的") for m in at.markdown)  # the page's own translation


def test_training_a_detector_here_queues_a_job_that_can_be_stopped(monkeypatch, tmp_path):
    import time

    from gan_core.recipes import load_recipe
    from gan_core.runs import RunDir
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    at = open_page("views/anomaly.py")
    at.selectbox(key="a_new_digit").set_value(3).run()
    at.radio(key="a_new_digit_is__en").set_value("anomaly").run()
    at.number_input(key="a_new_gan_steps").set_value(100).run()
    at.button(key="a_new_start").click().run()
    assert not at.exception
    run = RunDir(at.session_state["a_job"])
    recipe = load_recipe(run.path / "config.yaml")
    assert recipe.name == "mnist_3_anomaly" and recipe.gan.data.exclude_classes == [3]
    assert recipe.gan.train.steps == 100 and "Digit 3 is the anomaly" in recipe.description
    assert any("step" in p.text for p in at.get("progress"))
    at.button(key=f"stop_{run.id}").click().run()
    for _ in range(120):                                             # the process checkpoints and exits
        if run.status().get("state") not in ("queued", "starting", "running"):
            break
        time.sleep(0.5)
    assert run.status()["state"] == "stopped"
    at.run()
    assert any("stopped" in w.value.lower() for w in at.warning)
    assert f"resume_{run.id}" in [b.key for b in at.button]


def test_a_zip_of_my_pictures_is_checked_before_training(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    at = open_page("views/anomaly.py")
    at.radio(key="a_new_source__en").set_value("folder").run()
    at.file_uploader(key="a_new_zip").set_value(("mine.zip", _zip({"pics/a.png": _png(0)}), "application/zip")).run()
    assert "no normal/ folder" in at.error[0].value and "a_new_start" not in [b.key for b in at.button]
    good = _zip({**{f"normal/{i}.png": _png(0) for i in range(4)}, "test/abnormal/x.png": _png(255),
                 "test/normal/y.png": _png(0)})
    at.file_uploader(key="a_new_zip").set_value(("mine.zip", good, "application/zip")).run()
    assert not at.error and any("4 normal pictures, 1 in test/normal and 1 in test/abnormal" in c.value
                                for c in at.caption)
    bad = _zip({"normal/a.png": b"not a picture"})
    at.file_uploader(key="a_new_zip").set_value(("bad.zip", bad, "application/zip")).run()
    assert "could not be used" in at.error[0].value and not at.exception


def test_the_curves_speak_chinese_on_the_chinese_page():
    at = open_page("views/anomaly.py", "zh", a_detector="anomaly_mnist_0")
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    text = json.dumps(figures, ensure_ascii=False)
    assert "假阳性率" in text and "精确率" in text and "分数" in text
    assert "false positive rate" not in text and '"score"' not in text
