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
    assert steps[-1] == 150
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
    from gan_core.config import load_config
    recipe = load_config("configs/anomaly_mnist_0.yaml", [
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
