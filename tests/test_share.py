"""Run bundles: export, import elsewhere, same samples; hostile bundles are refused and leave nothing."""
import hashlib
import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from gan_core.runs import RunDir, RunIndex
from gan_core.sampling import load_generator
from gan_core.share import BundleError, export_run, import_bundle
from gan_core.train import Trainer
from gan_core.train.callbacks import standard_callbacks


@pytest.fixture
def finished_run(tiny_dcgan_cfg, tmp_path):
    run = RunDir.create("tiny", root=tmp_path / "alice")
    cfg = tiny_dcgan_cfg()
    from gan_core.recipes import dump_recipe
    run.write_config(dump_recipe(cfg))
    Trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False)).fit()
    return run


def rezip(data: bytes, change) -> bytes:
    """The bundle with its members passed through change(dict name -> bytes)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {m.filename: zf.read(m) for m in zf.infolist()}
    change(files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def test_export_import_gives_the_same_samples(finished_run, tmp_path):
    bundle = export_run(finished_run, tmp_path / "tiny.zip")
    assert (tmp_path / "tiny.zip").read_bytes() == bundle
    bob = tmp_path / "bob"
    run = import_bundle(tmp_path / "tiny.zip", root=bob)
    assert run.path.parent == bob and run.id == finished_run.id
    assert run.read_metrics() == finished_run.read_metrics()
    assert sorted(p.name for p in run.samples.iterdir()) == sorted(p.name for p in finished_run.samples.iterdir())
    a = load_generator(finished_run.latest_checkpoint()).sample(8, seed=3)
    b = load_generator(run.latest_checkpoint()).sample(8, seed=3)
    assert torch.equal(a, b)
    assert [r["id"] for r in RunIndex(bob).rows()] == [run.id]
    again = import_bundle(bundle, root=bob)  # a second import does not overwrite the first
    assert again.id == f"{run.id}-2"


@pytest.mark.parametrize("change,message", [
    (lambda f: f.__setitem__("checkpoints/evil.pkl", pickle.dumps({"x": 1})), "does not hold"),
    (lambda f: f.__setitem__("model.pth", b"PK"), "does not hold"),
    (lambda f: f.__setitem__("samples/run.sh", b"#!/bin/sh\nrm -rf ~\n"), "does not hold"),
    (lambda f: f.__setitem__("../../outside.png", b"x"), "escape"),
    (lambda f: f.__setitem__("/etc/passwd", b"x"), "escape"),
    (lambda f: f.__setitem__("log.txt", f["log.txt"] + b"edited"), "checksum"),
    (lambda f: f.pop("manifest.json"), "manifest.json and config.yaml are required"),
    (lambda f: f.__setitem__("config.yaml", b"model: {arch: nope}"), "checksum"),
])
def test_hostile_or_damaged_bundles_are_refused(finished_run, tmp_path, change, message):
    bundle = rezip(export_run(finished_run), change)
    with pytest.raises(BundleError, match=message):
        import_bundle(bundle, root=tmp_path / "bob")
    assert not (tmp_path / "bob").exists() or not any((tmp_path / "bob").iterdir())


def test_a_consistent_but_invalid_recipe_or_checkpoint_is_refused(finished_run, tmp_path):
    def bad_recipe(files):
        files["config.yaml"] = b"model: {arch: nope}\n"
        manifest = json.loads(files["manifest.json"])
        import hashlib
        manifest["files"]["config.yaml"] = hashlib.sha256(files["config.yaml"]).hexdigest()
        files["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(BundleError, match="not a valid recipe"):
        import_bundle(rezip(export_run(finished_run), bad_recipe), root=tmp_path / "bob")
    assert not any((tmp_path / "bob").iterdir())  # the staging folder is gone too
    with pytest.raises(BundleError, match="not a .zip"):
        import_bundle(b"hello", root=tmp_path / "bob")


def test_a_running_run_imports_as_stopped(finished_run, tmp_path):
    finished_run.set_status("running", step=3)
    run = import_bundle(export_run(finished_run), root=tmp_path / "bob")
    assert run.status()["state"] == "stopped" and "imported" in run.status()["message"]


def _pickled_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"code": "runs on load"}], dtype=object), allow_pickle=True)
    return buf.getvalue()


PICKLED_NPY = _pickled_npy()


def empty(folder) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def consistent(change):
    """change(files), then the manifest re-signed: a bundle whose checksums all match."""
    def apply(files):
        change(files)
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
        files["manifest.json"] = json.dumps(manifest).encode()
    return apply


@pytest.mark.parametrize("change,message", [
    (lambda f: f.__setitem__("status.json", b"\xff\xfe not utf-8"), "status.json cannot be read"),
    (lambda f: f.__setitem__("status.json", b"[1, 2]"), "status.json does not describe a run"),
    (lambda f: f.__setitem__("status.json", b'{"state": "finished", "step": "abc"}'), "does not describe a run"),
    (lambda f: f.__setitem__("status.json", b'{"state": "exploded"}'), "does not describe a run"),
    (lambda f: f.__setitem__("metrics.jsonl", b'[1]\n{"step": 2}\n'), "metrics.jsonl line 1"),
    (lambda f: f.__setitem__("metrics.jsonl", b'{"step": 1}\n\xff\n'), "metrics.jsonl is not UTF-8"),
    (lambda f: f.__setitem__("log.txt", b"\xc3\x28"), "log.txt is not UTF-8"),
    (lambda f: f.__setitem__("samples/step_0000001.npy", PICKLED_NPY), "not a plain .npy"),
    (lambda f: f.__setitem__("config.yaml\n", b"x"), "does not hold"),
    (lambda f: f.__setitem__("config.yaml", f["config.yaml"].replace(b"name: mnist5k", b"name: folder").replace(
        b"path: null", b"path: /etc")),
     "outside the folders this server lets a recipe read"),
    # Resume would make this server send the run to whatever host the bundle names
    (lambda f: f.__setitem__("config.yaml", f["config.yaml"].replace(b"track: none", b"track: mlflow").replace(
        b"tracking_uri: null", b"tracking_uri: http://169.254.169.254/latest")),
     "tracking_uri: http://169.254.169.254/latest is not a tracking server this server's operator set up"),
])
def test_bundles_with_malformed_files_are_refused_whole(finished_run, tmp_path, change, message):
    bundle = rezip(export_run(finished_run), consistent(change))
    with pytest.raises(BundleError, match=message):
        import_bundle(bundle, root=tmp_path / "bob")
    assert empty(tmp_path / "bob")  # nothing was put in place, not even a staging folder


def test_a_torn_last_metrics_line_still_imports(finished_run, tmp_path):
    bundle = rezip(export_run(finished_run), consistent(lambda f: f.__setitem__(
        "metrics.jsonl", f["metrics.jsonl"] + b'{"step": 9, "loss_d"')))
    run = import_bundle(bundle, root=tmp_path / "bob")
    assert run.read_metrics() == finished_run.read_metrics()


def test_a_decompression_bomb_is_refused_before_it_unpacks(finished_run, tmp_path):
    zeros = bytes(8 * 1024 ** 2)  # 8 MB of zeros pack to about 8 kB
    bundle = rezip(export_run(finished_run), consistent(lambda f: f.__setitem__("log.txt", zeros)))
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for m in src.infolist():
            dst.writestr(m.filename, src.read(m))
    assert len(buf.getvalue()) < 1024 ** 2
    with pytest.raises(BundleError, match="decompression bomb"):
        import_bundle(buf.getvalue(), root=tmp_path / "bob")
    assert empty(tmp_path / "bob")


def test_a_tracked_bundle_imports_when_it_names_the_operators_server_or_none(finished_run, tmp_path, monkeypatch):
    from gan_core import jobs
    from gan_core.config import ConfigError
    from gan_core.recipes import load_recipe

    for var in ("MLFLOW_TRACKING_URI", "GAN_STUDIO_MLFLOW_URI", "GAN_STUDIO_MLFLOW_ALLOWED"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])  # Resume queues, starts nothing

    def tracked(uri: bytes):
        return consistent(lambda f: f.__setitem__("config.yaml", f["config.yaml"].replace(
            b"track: none", b"track: mlflow").replace(b"tracking_uri: null", b"tracking_uri: " + uri)))
    named = rezip(export_run(finished_run), tracked(b"http://mlflow.lab:5000"))
    with pytest.raises(BundleError, match="is not a tracking server"):
        import_bundle(named, root=tmp_path / "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://MLflow.lab:5000/")  # the operator's server, spelt otherwise
    run = import_bundle(named, root=tmp_path / "bob")
    assert load_recipe(run.path / "config.yaml").train.tracking_uri == "http://mlflow.lab:5000"
    # tracking to no server in particular imports anywhere; Resume says when there is none to track to
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    run = import_bundle(rezip(export_run(finished_run), tracked(b"null")), root=tmp_path / "carol")
    with pytest.raises(ConfigError, match="no tracking server is named"):
        jobs.resume(run)
    assert run.status()["state"] == "finished"
