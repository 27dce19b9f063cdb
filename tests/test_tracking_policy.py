"""Which MLflow servers a recipe from a browser may make this server talk to (gan_core/tracking_server.py):
jobs.submit and jobs.resume refuse any other, and train.track 'mlflow' with no server anywhere. No
server is started and no training runs here (jobs are queued, never started)."""
from __future__ import annotations

import pytest

from gan_core import jobs
from gan_core.config import ConfigError
from gan_core.paths import CONFIGS
from gan_core.recipes import dump_recipe, load_recipe
from gan_core.tracking_server import NO_SERVER, normalised, server_host, tracking_uri

VARIABLES = ("MLFLOW_TRACKING_URI", "GAN_STUDIO_MLFLOW_URI", "GAN_STUDIO_MLFLOW_ALLOWED")
FOREIGN = r"train\.tracking_uri: .* is not a tracking server this server's operator set up"


@pytest.fixture(autouse=True)
def _no_operator_servers(monkeypatch):
    """This machine's own MLflow settings stay out; each test sets what it needs."""
    for var in VARIABLES:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])  # queued, never started
    return tmp_path / "runs"


def recipe(name: str = "tracked", **extra):
    return load_recipe(None, {"name": name, "model.arch": "mlp", "data.name": "toy", "train.steps": 5, **extra})


def queued(root) -> int:
    """How many run folders were made."""
    return sum((p / "config.yaml").exists() for p in root.iterdir()) if root.exists() else 0


def test_a_submitted_recipe_may_name_only_a_server_the_operator_set_up(root, monkeypatch):
    attacker = recipe("foreign", **{"train.track": "mlflow", "train.tracking_uri": "http://10.0.0.7:8080/admin"})
    with pytest.raises(ConfigError, match=FOREIGN) as refused:
        jobs.submit(attacker, root=root, start=False)
    for var in VARIABLES:  # the message says what the operator can set
        assert var in str(refused.value)
    # a URI that is never used (train.track none) is refused too: a browser's recipe names no other server
    with pytest.raises(ConfigError, match=FOREIGN):
        jobs.submit(recipe("inert", **{"train.tracking_uri": "http://10.0.0.7:8080"}), root=root, start=False)
    assert queued(root) == 0  # nothing was queued

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://MLflow.Lab:5000/")
    with pytest.raises(ConfigError, match=FOREIGN):  # still not that one, nor the same host on another port
        jobs.submit(attacker, root=root, start=False)
    with pytest.raises(ConfigError, match=FOREIGN):
        jobs.submit(recipe(**{"train.track": "mlflow", "train.tracking_uri": "http://mlflow.lab:5001"}), root=root,
                    start=False)
    # the operator's server, however spelt: scheme and host case, trailing slash, the default port
    for spelt in ("http://mlflow.lab:5000", "HTTP://MLFLOW.LAB:5000/"):
        run = jobs.submit(recipe(**{"train.track": "mlflow", "train.tracking_uri": spelt}), root=root, start=False)
        assert load_recipe(run.path / "config.yaml").train.track == "mlflow"
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "https://bob:secret@team.example")  # credentials stay the operator's
    jobs.submit(recipe(**{"train.track": "mlflow", "train.tracking_uri": "https://team.example:443"}), root=root,
                start=False)
    # more servers through the allowlist
    with pytest.raises(ConfigError, match=FOREIGN):
        jobs.submit(recipe(**{"train.track": "mlflow", "train.tracking_uri": "https://b.lab:8443"}), root=root,
                    start=False)
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_ALLOWED", "https://a.lab, https://B.lab:8443/ ,")
    jobs.submit(recipe(**{"train.track": "mlflow", "train.tracking_uri": "https://b.lab:8443"}), root=root,
                start=False)
    assert queued(root) == 4


def test_tracking_with_no_server_anywhere_is_refused_at_submit_with_the_trainers_message(root, monkeypatch):
    tracked = recipe(**{"train.track": "mlflow"})
    with pytest.raises(ConfigError) as refused:
        jobs.submit(tracked, root=root, start=False)
    assert str(refused.value) == NO_SERVER
    with pytest.raises(ConfigError) as trainer:  # what the run would have said when it started
        tracking_uri(tracked)
    assert str(trainer.value) == str(refused.value)
    assert queued(root) == 0
    jobs.submit(recipe("plain"), root=root, start=False)  # train.track none needs no server
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "sqlite:////srv/mlflow.db")  # the operator's store, local or not
    run = jobs.submit(tracked, root=root, start=False)
    stored = load_recipe(run.path / "config.yaml").train
    assert stored.track == "mlflow" and stored.tracking_uri is None  # the operator's server is read when it runs
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "mlflow.lab:5000")  # not a URI: said at submit too
    with pytest.raises(ConfigError, match="GAN_STUDIO_MLFLOW_URI='mlflow.lab:5000' is not a tracking URI"):
        jobs.submit(tracked, root=root, start=False)


def test_resume_checks_the_stored_recipe_again(root, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.lab:5000")
    run = jobs.submit(recipe(**{"train.track": "mlflow"}), root=root, start=False)
    run.set_status("stopped")
    # config.yaml changed on disk afterwards (an edited folder on shared storage): refused, still stopped
    run.write_config(dump_recipe(recipe(**{"train.track": "mlflow", "train.tracking_uri": "http://10.0.0.7"})))
    with pytest.raises(ConfigError, match=FOREIGN):
        jobs.resume(run)
    assert run.status()["state"] == "stopped"
    # the operator has since taken the server away: said at Resume, not by a failed run
    run.write_config(dump_recipe(recipe(**{"train.track": "mlflow"})))
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(ConfigError, match="no tracking server is named"):
        jobs.resume(run)
    assert run.status()["state"] == "stopped"
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "http://mlflow.lab:5000")
    jobs.resume(run)
    assert run.status()["state"] == "queued"


def test_a_detectors_gan_section_is_checked_too(root):
    detector = load_recipe(CONFIGS / "anomaly_mnist_0.yaml", {"gan.train.track": "mlflow",
                                                           "gan.train.tracking_uri": "http://10.0.0.7"})
    with pytest.raises(ConfigError, match=FOREIGN):
        jobs.submit(detector, root=root, start=False)


def test_one_spelling_per_server():
    assert normalised("HTTP://MLflow.Lab:80/") == normalised("http://mlflow.lab") == "http://mlflow.lab"
    assert normalised("https://bob:pw@Team.example:443/mlflow/") == "https://team.example/mlflow"
    assert normalised("https://team.example:8443") != normalised("https://team.example")
    assert normalised("https://team.example/Path") != normalised("https://team.example/path")  # paths keep case
    assert normalised("http://[::1]:5000/") == "http://[::1]:5000"
    assert normalised("sqlite:////srv/mlflow.db") == "sqlite:////srv/mlflow.db"
    # what a page shows of the operator's server: its host, never a password or a path
    assert server_host("https://bob:secret@mlflow.lab:8443/team") == "mlflow.lab:8443"
    assert server_host("http://mlflow.lab") == "mlflow.lab"
    assert server_host("sqlite:////srv/mlflow.db") is None and server_host("mlflow.lab:5000") is None
