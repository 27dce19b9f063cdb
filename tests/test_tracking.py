"""MLflow tracking (train.track: mlflow) against a real `mlflow server` on localhost, with a SQLite
backend and proxied artifacts, started once for this module; and what happens without one."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from safetensors.torch import load_file

from gan_core.checkpoint import read_checkpoint
from gan_core.config import ConfigError
from gan_core.recipes import dump_recipe, load_recipe
from gan_core.runs import RunDir, RunIndex, runs_root
from gan_core.tracking_server import public_uri, tracking_uri
from gan_core.train import Trainer
from gan_core.train.callbacks import standard_callbacks
from gan_core.train.tracking import TRACKING_FILE, run_url

mlflow = pytest.importorskip("mlflow", reason="MLflow is a dev requirement (requirements-dev.txt)")
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parent.parent
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "GAN_STUDIO_MLFLOW_URI", "MLFLOW_EXPERIMENT_NAME")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A tracking server as a team runs one: SQLite for runs, a folder for artifacts, which the
    server itself receives (--serve-artifacts, its default), so clients need no access to it."""
    home = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = open(home / "server.log", "wb")  # noqa: SIM115 - the server writes to it until the module ends
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner processes to start
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{home / 'mlflow.db'}", "--artifacts-destination", str(home / "artifacts"),
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=home,
                            start_new_session=True)  # its own group: its uvicorn worker is stopped with it
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a fresh database is migrated first; slow on a loaded machine
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow server did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        yield {"uri": uri, "artifacts": home / "artifacts"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(autouse=True)
def _no_ambient_tracking(monkeypatch):
    """This machine's own MLflow settings stay out of the tests; each test sets what it needs."""
    for var in (*URI_VARIABLES, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"):
        monkeypatch.setenv(var, "")  # recorded, so what the tracker sets (its defaults) is undone after the test
        monkeypatch.delenv(var)


def train(cfg, run: RunDir | None = None, resume: bool = False, stop_at: int | None = None) -> tuple[RunDir, str]:
    """Train `cfg` in a run folder with the standard callbacks, as `gan_core train` does; with
    `stop_at`, asked to stop there as the app's Stop button does."""
    if run is None:
        run = RunDir.create(cfg.name, root=runs_root())
    run.write_config(dump_recipe(cfg))
    trainer = Trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False))
    if resume:
        trainer.load_state(run.latest_checkpoint())
    state = trainer.fit(should_stop=None if stop_at is None else lambda: trainer.step >= stop_at)
    return run, state


@pytest.mark.team  # a real server: make test-team
def test_a_tracked_run_is_on_the_server_with_its_figures_samples_and_model(server, tiny_dcgan_cfg, tmp_path,
                                                                           capfd):
    cfg = tiny_dcgan_cfg("train.track=mlflow", f"train.tracking_uri={server['uri']}", "train.lr_g=0.00031",
                         "train.eval_every=4")
    run, state = train(cfg)
    assert state == "finished"
    out, err = capfd.readouterr()
    assert "View run" not in out + err  # MLflow's own print of the address: the CLI's stdout is its JSON result
    status = run.status()
    assert status["state"] == "finished" and status["tracking"] == "logged", status
    tracked = json.loads((run.path / TRACKING_FILE).read_text())
    client = MlflowClient(tracking_uri=server["uri"])
    got = client.get_run(tracked["run_id"])
    # the page the Gallery links to is this run's on this server
    assert tracked["url"] == f"{server['uri']}/#/experiments/{got.info.experiment_id}/runs/{got.info.run_id}"
    assert client.get_experiment(got.info.experiment_id).name == "tiny"  # the recipe's name
    assert got.info.status == "FINISHED" and got.info.run_name == run.id
    assert got.data.tags["gan_studio.run"] == run.id
    # params: the whole recipe, flattened
    params = got.data.params
    assert params["train.lr_g"] == "0.00031" and params["model.ngf"] == "4" and params["train.steps"] == "4"
    assert params["train.betas"] == "[0.5, 0.999]" and params["train.track"] == "mlflow"
    # metrics: every logged step of every figure, the values metrics.jsonl holds (it rounds to 6 places)
    logged = [r for r in run.read_metrics() if "loss_d" in r]
    history = client.get_metric_history(got.info.run_id, "loss_d")
    assert [m.step for m in history] == [1, 2, 3, 4] == [r["step"] for r in logged]
    assert [m.value for m in history] == pytest.approx([r["loss_d"] for r in logged], abs=1e-5)
    assert {"loss_g", "it_s"} <= set(got.data.metrics)
    # the image metrics MetricTracker measured at step 4
    measured = next(r for r in run.read_metrics() if "fd" in r)
    for key in ("fd", "kid", "precision", "recall"):
        [point] = client.get_metric_history(got.info.run_id, key)
        assert point.step == 4 and point.value == pytest.approx(measured[key])
    # artifacts: the recipe, every sample grid, the log, the model and its card
    names = {a.path for a in client.list_artifacts(got.info.run_id)}
    assert {"config.yaml", "log.txt", "samples", "model"} <= names
    grids = [a.path for a in client.list_artifacts(got.info.run_id, "samples")]
    assert grids == ["samples/step_0000000.png", "samples/step_0000002.png", "samples/step_0000004.png"]
    assert {a.path for a in client.list_artifacts(got.info.run_id, "model")} == {"model/tiny.safetensors",
                                                                                  "model/tiny.json"}
    down = Path(client.download_artifacts(got.info.run_id, "", str(tmp_path / "down")))
    assert (down / "samples/step_0000004.png").read_bytes() == (run.samples / "step_0000004.png").read_bytes()
    tensors, card = read_checkpoint(down / "model/tiny.safetensors")  # verifies the weights' checksum
    assert card["kind"] == "gan" and card["step"] == 4 and card["train"]["lr_g"] == 0.00031 and card["run"] == run.id
    final = load_file(run.latest_checkpoint().with_suffix(".safetensors"))
    d_keys = [k for k in tensors if k.startswith("D.")]
    assert d_keys and all((tensors[k] == final[k]).all() for k in d_keys)  # the weights it trained
    # they went through the server, to its artifacts folder: the client needed no access to it
    assert len(list(server["artifacts"].rglob("tiny.safetensors"))) == 1
    assert "MLflow: logged as run" in (run.path / "log.txt").read_text()


@pytest.mark.team  # a real server: make test-team
def test_a_resumed_run_continues_its_mlflow_run(server, tiny_dcgan_cfg, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", server["uri"])  # the app's setting, with no URI in the recipe
    cfg = tiny_dcgan_cfg("train.track=mlflow", "train.log_every=2")
    run, state = train(cfg, stop_at=2)
    assert state == "stopped"
    first = json.loads((run.path / TRACKING_FILE).read_text())
    assert first["tracking_uri"] == server["uri"]
    client = MlflowClient(tracking_uri=server["uri"])
    assert client.get_run(first["run_id"]).info.status == "KILLED"  # stopped, with its model so far
    assert {a.path for a in client.list_artifacts(first["run_id"], "model")} == {"model/tiny.safetensors",
                                                                                   "model/tiny.json"}
    run, state = train(load_recipe(None, {"train.steps": 6}, text=dump_recipe(cfg)), run, resume=True)
    assert state == "finished"
    assert json.loads((run.path / TRACKING_FILE).read_text())["run_id"] == first["run_id"]
    got = client.get_run(first["run_id"])
    assert got.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(first["run_id"], "loss_g")] == [2, 4, 6]
    # a param cannot change in MLflow: the new value is a tag
    assert got.data.params["train.steps"] == "4" and got.data.tags["resumed.train.steps"] == "6"
    grids = [a.path for a in client.list_artifacts(first["run_id"], "samples")]
    assert grids == ["samples/step_0000000.png", "samples/step_0000002.png", "samples/step_0000004.png",
                     "samples/step_0000006.png"]


@pytest.mark.team  # a real server: make test-team
@pytest.mark.parametrize("where", ["closed port", "not an MLflow server"])
def test_a_server_that_is_down_or_wrong_never_stops_training(where, tiny_dcgan_cfg, request, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}" if where == "closed port" else \
        request.getfixturevalue("server")["uri"] + "/not-mlflow"  # every API call answers 404
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # one try: the test need not wait out the backoff
    t0 = time.monotonic()
    run, state = train(tiny_dcgan_cfg("train.track=mlflow", f"train.tracking_uri={uri}"))
    assert time.monotonic() - t0 < 60
    assert state == "finished"
    status = run.status()
    assert status["state"] == "finished" and status["tracking"] == "failed"
    assert status["message"].startswith("reached step 4; MLflow tracking stopped at an error, the run itself is "
                                        "not affected (")
    assert ("Connection refused" if where == "closed port" else "404") in status["message"]
    log = (run.path / "log.txt").read_text()
    assert log.count("MLflow tracking stopped at an error") == 1 and "finished: reached step 4" in log
    assert run.latest_checkpoint().name == "step_0000004.safetensors"  # the run itself is whole
    assert not (run.path / TRACKING_FILE).exists()


def test_no_tracking_server_anywhere_is_said_before_training(tiny_dcgan_cfg, capsys):
    cfg = tiny_dcgan_cfg("train.track=mlflow")
    run = RunDir.create(cfg.name, root=runs_root())
    trainer = Trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False))
    with pytest.raises(ConfigError, match="no tracking server is named: set train.tracking_uri"):
        trainer.fit()
    assert trainer.step == 0 and run.latest_checkpoint() is None
    # from the command line: one line, no traceback
    from gan_core.cli import main
    recipe = run.path.parent / "tracked.yaml"
    recipe.write_text(dump_recipe(cfg))
    assert main(["train", str(recipe), "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "no tracking server is named" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("uri, message", [
    ("file:///srv/mlruns", "may name an http:// or https:// tracking server only"),
    ("sqlite:////srv/mlflow.db", "may name an http:// or https:// tracking server only"),
    ("/srv/mlruns", "may name an http:// or https:// tracking server only"),
    ("http://alice:secret@mlflow.lab:5000", "no user name or password in the URL"),
    ("http://mlflow.lab:99999", "is not a URL"),
    ("http:///api", "names no host"),
    ("https://mlflow.lab/#/experiments/1", "without ?query or #fragment"),
])
def test_a_recipe_names_an_http_server_only(uri, message):
    with pytest.raises(ConfigError, match=r"train\.tracking_uri: .*" + message.replace("?", r"\?")):
        load_recipe(None, {"train.track": "mlflow", "train.tracking_uri": uri})


def test_where_the_uri_comes_from(monkeypatch):
    cfg = load_recipe(None, {"train.track": "mlflow", "train.tracking_uri": "https://mlflow.lab/team/"})
    assert cfg.train.tracking_uri == "https://mlflow.lab/team"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "sqlite:////srv/mlflow.db")
    assert tracking_uri(cfg) == ("https://mlflow.lab/team", "train.tracking_uri")  # the recipe first
    plain = load_recipe(None, {"train.track": "mlflow"})
    assert tracking_uri(plain) == ("http://env:5000", "MLFLOW_TRACKING_URI")  # MLflow's own variable next
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(plain) == ("sqlite:////srv/mlflow.db", "GAN_STUDIO_MLFLOW_URI")  # local stores: operator's
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "mlflow.lab:5000")
    with pytest.raises(ConfigError, match="GAN_STUDIO_MLFLOW_URI='mlflow.lab:5000' is not a tracking URI"):
        tracking_uri(plain)
    # written down and linked without credentials; a local store has no web page
    assert public_uri("https://bob:pw@mlflow.lab:8443/x") == "https://mlflow.lab:8443/x"
    assert run_url("https://bob:pw@mlflow.lab:8443/x/", "3", "abc") == \
        "https://mlflow.lab:8443/x/#/experiments/3/runs/abc"
    assert run_url("sqlite:////srv/mlflow.db", "3", "abc") is None


def test_without_tracking_mlflow_is_never_imported(tiny_dcgan_cfg, tmp_path):
    """A run without train.track, even where MLFLOW_TRACKING_URI is set, neither imports mlflow nor
    writes tracking.json: the CLI, jobs and the app pay nothing for the tracker."""
    recipe = tmp_path / "quiet.yaml"
    recipe.write_text(dump_recipe(tiny_dcgan_cfg("train.steps=2")))
    script = ("import sys; from gan_core.cli import main; "
              f"code = main(['train', {str(recipe)!r}, '--run-dir', {str(tmp_path / 'run')!r}, '--quiet']); "
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'mlflow_skinny')))")
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "GAN_STUDIO_RUNS": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []"
    assert json.loads((tmp_path / "run" / "status.json").read_text())["state"] == "finished"
    assert not (tmp_path / "run" / TRACKING_FILE).exists()


def test_the_gallery_links_a_tracked_run_to_its_mlflow_page(tiny_dcgan_cfg):
    from streamlit.testing.v1 import AppTest

    run, _ = train(tiny_dcgan_cfg())
    RunIndex().update(run)
    url = "http://mlflow.lab:5000/#/experiments/1/runs/0123abcd"
    (run.path / TRACKING_FILE).write_text(json.dumps({"tracker": "mlflow", "run_id": "0123abcd", "url": url}))
    for lang, label in (("en", "Open in MLflow"), ("zh", "在 MLflow 中打开")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["lang"] = lang
        at.query_params["gal_src"] = f"run:{run.id}"
        at.run()
        at.switch_page("views/gallery.py").run()
        assert not at.exception, [e.value for e in at.exception]
        [link] = [b for b in at.get("link_button") if b.proto.label == label]
        assert link.proto.url == url
    (run.path / TRACKING_FILE).write_text(json.dumps({"url": "javascript:alert(1)"}))  # only web pages are linked
    at.run()
    assert not at.exception and "gal_export" in [b.key for b in at.get("download_button")]
    assert not [b for b in at.get("link_button") if b.proto.label == label]
