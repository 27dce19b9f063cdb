"""AnoGAN's latent search and the izi_f encoder on a tiny random DCGAN: images G can make score
low, images it cannot make score high; the batched search treats each image on its own."""
import pytest
import torch

from gan_core.apps.anomaly import anogan_score, encoder_score, train_encoder
from gan_core.metrics.anomaly import auroc
from gan_core.nets.dcgan import DCGANDiscriminator, DCGANGenerator


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    G = DCGANGenerator(nz=8, img_size=28, channels=1, ngf=8).eval()
    D = DCGANDiscriminator(img_size=28, channels=1, ndf=8).eval()
    with torch.no_grad():  # settle batch-norm statistics on G's own outputs
        G.train()
        for _ in range(5):
            G(torch.randn(64, 8))
        G.eval()
    return G, D


def made_and_foreign(G, n=6):
    with torch.no_grad():
        made = G(torch.randn(n, 8, generator=torch.Generator().manual_seed(1)))
    foreign = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
    return made, foreign


def test_latent_search_tells_what_g_can_make_from_what_it_cannot(gan):
    G, D = gan
    made, foreign = made_and_foreign(G)
    steps = []
    result = anogan_score(G, D, torch.cat([made, foreign]), steps=150, lr=0.05, restarts=2,
                          progress=lambda s, n: steps.append(s))
    assert result.score.shape == (12,) and result.reconstruction.shape == (12, 1, 28, 28)
    assert result.residual.shape == (12, 28, 28)
    labels = torch.tensor([0] * 6 + [1] * 6)
    assert auroc(result.score, labels) == 1.0
    assert steps == list(range(1, 151))                                       # told after every step
    assert G.training is False and all(p.requires_grad for p in G.parameters())  # left as found


def test_each_image_of_a_batch_is_searched_on_its_own(gan):
    G, D = gan
    made, foreign = made_and_foreign(G, 2)
    a = anogan_score(G, D, torch.cat([made[:1], foreign[:1]]), steps=30)
    b = anogan_score(G, D, torch.cat([made[:1], made[1:2]]), steps=30)
    assert torch.allclose(a.score[0], b.score[0], rtol=1e-5)
    assert torch.allclose(a.reconstruction[0], b.reconstruction[0], atol=1e-6)


def test_the_encoder_scores_in_one_pass(gan):
    G, D = gan
    with torch.no_grad():
        normal = G(torch.randn(256, 8, generator=torch.Generator().manual_seed(3)))
    E = train_encoder(G, D, normal, steps=300, batch_size=32, lr=1e-3, width=8)
    made, foreign = made_and_foreign(G)
    result = encoder_score(G, D, E, torch.cat([made, foreign]))
    assert result.score.shape == (12,) and result.residual.shape == (12, 28, 28)
    assert auroc(result.score, torch.tensor([0] * 6 + [1] * 6)) == 1.0


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory):
    from gan_core.apps.anomaly import fit_detector, save_detector
    from gan_core.recipes import load_recipe
    recipe = load_recipe("configs/anomaly_mnist_0.yaml", [
        "gan.model.nz=8", "gan.model.ngf=4", "gan.model.ndf=4", "gan.train.steps=3", "gan.train.batch_size=16",
        "encoder.steps=3", "encoder.width=4", "search.steps=3", "gan.data.classes=[7]"])
    det = fit_detector(recipe, "cpu", log=lambda *a: None)
    return save_detector(det, tmp_path_factory.mktemp("det") / "det"), det


def test_a_detector_is_trained_on_normal_images_and_thresholded(tiny_detector):
    from gan_core.apps.anomaly import load_detector
    path, det = tiny_detector
    v = det.card["validation"]
    assert set(det.card["thresholds"]) == {"encoder", "anogan"}
    assert v["encoder"]["n_normal"] == 45 and v["encoder"]["n_anomalous"] == 45   # 10% of the 450 sevens
    loaded = load_detector(path)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert torch.allclose(loaded.score(x, "encoder").score, det.score(x.to(next(det.G.parameters()).device),
                                                                       "encoder").score.cpu(), atol=1e-5)


def test_the_score_command_writes_a_csv_and_skips_what_it_cannot_read(tiny_detector, tmp_path, capsys):
    import csv
    import json

    from PIL import Image

    from gan_core.cli import main
    path, det = tiny_detector
    Image.new("L", (28, 28), 0).save(tmp_path / "black.png")
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(tmp_path / "red.png")   # resized and converted
    (tmp_path / "notes.png").write_text("not an image")
    code = main(["anomaly", "score", str(path), str(tmp_path / "black.png"), str(tmp_path / "red.png"),
                 str(tmp_path / "notes.png"), "--csv", str(tmp_path / "s.csv"), "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0 and "notes.png: not an image" in err
    report = json.loads(out)
    assert report["skipped"] == 1 and report["threshold"] == det.threshold("encoder")
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [r["image"].split("/")[-1] for r in rows] == ["black.png", "red.png"]
    assert main(["anomaly", "score", str(path), str(tmp_path / "notes.png")]) == 2
    assert main(["anomaly", "score", "checkpoints/mnist_dcgan.safetensors", str(tmp_path / "black.png")]) == 2
    assert "not an anomaly detector" in capsys.readouterr().err


def _folder_of_pictures(root, layout):
    """layout: {"normal": n, "test/normal": n, "test/abnormal": n}; normal pictures are dark
    squares with a bright bar, abnormal ones bright noise."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for part, n in layout.items():
        (root / part).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            if part.endswith("abnormal"):
                arr = rng.integers(100, 256, (28, 28), dtype=np.uint8)
            else:
                arr = np.zeros((28, 28), np.uint8)
                arr[4:24, 12:16] = 200
            Image.fromarray(arr).save(root / part / f"{i}.png")
    return root


def test_a_folder_with_normal_and_test_parts_trains_thresholds_and_a_test_set(tmp_path):
    from gan_core.apps.anomaly import builtin_test_set, fit_detector, folder_parts
    from gan_core.recipes import load_recipe
    folder = _folder_of_pictures(tmp_path / "mine", {"normal": 20, "test/normal": 6, "test/abnormal": 10})
    assert folder_parts(folder) == {"normal": 20, "test/normal": 6, "test/abnormal": 10}
    recipe = load_recipe("configs/anomaly_mnist_0.yaml", [
        "gan.data.name=folder", f"gan.data.path={folder}", "gan.data.classes=null", "gan.model.nz=8",
        "gan.model.ngf=4", "gan.model.ndf=4", "gan.train.steps=2", "gan.train.batch_size=8", "encoder.steps=2",
        "encoder.width=4", "search.steps=2", "validation=0.2"])
    det = fit_detector(recipe, "cpu", log=lambda *a: None)
    v = det.card["validation"]["encoder"]
    assert v["n_normal"] == 4 and v["n_anomalous"] == 4       # 20% of normal/, and as many of the 5 kept
    test = builtin_test_set(det)                                 # test/normal + the other half of test/abnormal
    assert test.labels.tolist() == [0] * 6 + [1] * 5 and set(test.groups) == {"normal", "abnormal"}


def test_a_folder_of_normal_pictures_only_says_the_threshold_is_set_by_hand(tmp_path):
    from gan_core.apps.anomaly import builtin_test_set, fit_detector
    from gan_core.recipes import load_recipe
    folder = _folder_of_pictures(tmp_path / "plain", {"normal": 12})
    recipe = load_recipe("configs/anomaly_mnist_0.yaml", [
        "gan.data.name=folder", f"gan.data.path={folder}", "gan.data.classes=null", "gan.model.nz=8",
        "gan.model.ngf=4", "gan.model.ndf=4", "gan.train.steps=2", "gan.train.batch_size=8", "encoder.steps=2",
        "encoder.width=4"])
    det = fit_detector(recipe, "cpu", log=lambda *a: None)
    assert det.card["thresholds"] == {} and "test/abnormal" in det.card["validation"]["note"]
    with pytest.raises(ValueError, match="no test/normal"):
        builtin_test_set(det)


def test_a_detector_job_stops_resumes_and_writes_its_detector_into_the_run(tmp_path, capsys):
    import json

    from gan_core.cli import main
    from gan_core.recipes import dump_recipe, load_recipe
    from gan_core.runs import RunDir, RunIndex
    recipe = load_recipe("configs/anomaly_mnist_0.yaml", [
        "gan.model.nz=8", "gan.model.ngf=4", "gan.model.ndf=4", "gan.train.steps=6", "gan.train.batch_size=8",
        "gan.train.log_every=2", "gan.train.checkpoint_every=2", "encoder.steps=2", "encoder.width=4",
        "search.steps=2", "gan.data.classes=[1]"])
    run = RunDir.create("detector", root=tmp_path)
    run.write_config(dump_recipe(recipe))
    (run.path / "STOP").touch()                                   # seen at the first logged step
    assert main(["train", "--resume", str(run.path), "--device", "cpu", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "stopped"
    stopped_at = run.status()["step"]
    assert run.status()["state"] == "stopped" and 1 <= stopped_at < 6 and not (run.path / "STOP").exists()
    assert not (run.path / "detector.json").exists()
    assert main(["train", "--resume", str(run.path), "--device", "cpu", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "finished" and out["out"].endswith("detector.safetensors")
    assert f"resuming the GAN from step {stopped_at}" in (run.path / "log.txt").read_text()
    status = run.status()
    assert status["state"] == "finished" and status["detector"] == out["out"]
    RunIndex(tmp_path).update(run)
    assert RunIndex(tmp_path).rows()[0]["model"] == "anomaly detector (dcgan 28px)"


def test_recipes_for_new_detectors_follow_the_shipped_ones():
    from gan_core.apps.anomaly import detector_recipe
    r = detector_recipe("mnist5k", "mine", digit=3, digit_is="anomaly", gan_steps=300, encoder_steps=200)
    assert r.gan.data.classes is None and r.gan.data.exclude_classes == [3]
    assert r.gan.train.steps == 300 and r.encoder.steps == 200 and r.gan.model.nz == 32
    # both languages describe this detector, not the shipped recipe it was made from (digit 0 normal)
    assert r.description.startswith("Digit 3 is the anomaly") and r.description_zh.startswith("以数字 3 为异常")
    grass = detector_recipe("texture", "t", texture="grass")
    assert grass.gan.data.texture == "grass" and grass.description_zh.startswith("以草地纹理为正常")
    f = detector_recipe("folder", "f", path="/data/parts.zip")
    assert f.gan.data.name == "folder" and f.gan.data.path == "/data/parts.zip" and "parts.zip" in f.description
    with pytest.raises(ValueError, match="unknown source"):
        detector_recipe("cifar", "x")


def test_a_submitted_detector_keeps_its_pictures_in_the_run(tmp_path, monkeypatch):
    import io
    import zipfile

    from gan_core.apps.anomaly import detector_recipe, run_detectors, submit_detector
    from gan_core.recipes import load_recipe
    from gan_core.runs import RunDir
    monkeypatch.setattr("gan_core.apps.anomaly.jobs.schedule", lambda root=None: [])   # queue it, start nothing
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path))   # the runs root: a recipe may read the pictures there
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("normal/a.png", b"")
    run = submit_detector(detector_recipe("folder", "zipped", path="placeholder"), buf.getvalue(), root=tmp_path)
    assert (run.path / "pictures.zip").read_bytes() == buf.getvalue()
    cfg = load_recipe(run.path / "config.yaml")
    assert cfg.gan.data.path == str((run.path / "pictures.zip").resolve())
    assert RunDir(run.path).status()["state"] == "queued" and run_detectors(tmp_path) == []


def test_scoring_leaves_the_networks_exactly_as_it_found_them(gan):
    G, D = gan
    first = next(G.parameters())
    first.requires_grad_(False)                      # a caller that froze part of G
    D.train()
    try:
        anogan_score(G, D, torch.zeros(1, 1, 28, 28), steps=2)
        train_encoder(G, D, torch.zeros(4, 1, 28, 28), steps=1, batch_size=2, width=4)
        assert first.requires_grad is False and all(p.requires_grad for p in list(G.parameters())[1:])
        assert D.training and not G.training
    finally:
        first.requires_grad_(True)
        D.eval()


def test_samples_to_try_are_spread_normal_ones_then_one_anomaly_per_group():
    from gan_core.apps.anomaly import TestSet, sample_indices
    # ten groups of five like the digit test set: "0" normal, 1..10 anomalous (10 sorts after 9)
    groups = [str(g) for g in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] for _ in range(5)]
    labels = torch.tensor([int(g != "0") for g in groups])
    test = TestSet(torch.zeros(len(groups), 1, 4, 4), labels, groups, None, "t")
    picked = sample_indices(test, 3)
    assert picked[:3] == [0, 2, 4]                                   # the first, middle and last zero
    assert [groups[i] for i in picked[3:]] == ["1", "5", "10"]       # groups spread, one picture each
    assert sample_indices(test, 1) == [0, 5]
    # fewer kinds of anomaly than pictures wanted: a second round over the kinds
    kinds = ["normal"] * 4 + ["scratch"] * 3 + ["cutpaste"] * 3
    test = TestSet(torch.zeros(10, 1, 4, 4), torch.tensor([0] * 4 + [1] * 6), kinds, None, "t")
    assert [kinds[i] for i in sample_indices(test, 3)[3:]] == ["cutpaste", "scratch", "cutpaste"]
    assert sample_indices(test, 3)[3:] == [7, 4, 8]
    # a test set without anomalies (a folder's test/normal only) offers normal samples only
    test = TestSet(torch.zeros(2, 1, 4, 4), torch.tensor([0, 0]), ["normal"] * 2, None, "t")
    assert sample_indices(test, 3) == [0, 1]
