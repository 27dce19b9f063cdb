"""Run bundles: export, import elsewhere, same samples; hostile bundles are refused and leave nothing."""
import io
import json
import pickle
import zipfile

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
