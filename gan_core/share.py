"""Run bundles: a run folder as one .zip a teammate can import into their own runs root.

A bundle holds the recipe, status, metrics, log, sample grids and the newest checkpoint, plus
manifest.json with the sha256 of every file. Importing one trusts nothing in it:

- size, file-count and unpacked-size limits, checked before anything is read;
- every name must be one a run folder has (config.yaml, samples/step_0000100.png, ...): no
  absolute paths, no '..', no other files at all — so no pickles, scripts or executables;
- every file must match the manifest's checksum;
- checkpoints are read back through safetensors (never unpickled) and the recipe through the
  strict config schema before the run appears;
- it is unpacked into a hidden folder first and renamed into place, so a failed import leaves
  nothing behind.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import time
import zipfile
from pathlib import Path

from .data.images import _safe_member
from .io import atomic_write_bytes
from .runs import RunDir, RunIndex, runs_root

FORMAT = "gan-studio-run"
MAX_BUNDLE_BYTES = 1024 ** 3           # the .zip itself
MAX_UNPACKED_BYTES = 2 * 1024 ** 3
MAX_FILES = 5000
# The only names a bundle may hold (relative to the run folder).
ALLOWED = re.compile(r"^(manifest\.json|config\.yaml|status\.json|metrics\.jsonl|log\.txt"
                     r"|samples/step_\d{7}\.(png|npy)"
                     r"|checkpoints/step_\d{7}\.(safetensors|json))$")


class BundleError(ValueError):
    """A bundle that cannot be imported; the message says why."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_run(run: RunDir, out: str | Path | None = None) -> bytes:
    """The run as bundle bytes (also written to `out` if given): everything but older checkpoints."""
    files: list[Path] = [run.path / n for n in ("config.yaml", "status.json", "metrics.jsonl", "log.txt")]
    files += sorted(run.samples.glob("step_*.png")) + sorted(run.samples.glob("step_*.npy"))
    ckpt = run.latest_checkpoint()
    if ckpt is not None:
        files += [ckpt, ckpt.with_suffix(".json")]
    manifest = {"format": FORMAT, "version": 1, "run": run.id, "exported_at": time.time(), "files": {}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            if not path.is_file():
                continue
            rel = path.relative_to(run.path).as_posix()
            data = path.read_bytes()
            manifest["files"][rel] = _sha256(data)
            # PNGs and weights barely compress; storing them keeps export fast
            kind = zipfile.ZIP_STORED if path.suffix in (".png", ".safetensors") else zipfile.ZIP_DEFLATED
            zf.writestr(rel, data, compress_type=kind)
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
    data = buf.getvalue()
    if out is not None:
        atomic_write_bytes(out, data)
    return data


def import_bundle(source: str | Path | bytes, root: str | Path | None = None) -> RunDir:
    """Validate a bundle and add it to the runs root as a new run folder; BundleError says why not."""
    root = Path(root or runs_root())
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle is {len(raw) / 1e9:.1f} GB, over the limit of {MAX_BUNDLE_BYTES / 1e9:.0f} GB")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as e:
        raise BundleError(f"not a .zip file ({e})") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > MAX_FILES:
            raise BundleError(f"{len(members):,} files is over the limit of {MAX_FILES:,}")
        unsafe = [m.filename for m in members if not _safe_member(m.filename)]
        if unsafe:
            raise BundleError(f"refused: paths that escape the run folder: {', '.join(unsafe[:5])}")
        foreign = [m.filename for m in members if not ALLOWED.match(m.filename)]
        if foreign:
            raise BundleError(f"refused: files a run bundle does not hold (only recipes, metrics, logs, PNG/NPY "
                              f"samples and safetensors checkpoints are accepted): {', '.join(foreign[:5])}")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise BundleError(f"it unpacks to more than {MAX_UNPACKED_BYTES / 1e9:.0f} GB")
        names = {m.filename for m in members}
        if "manifest.json" not in names or "config.yaml" not in names:
            raise BundleError("not a GAN Studio run bundle (manifest.json and config.yaml are required)")
        try:
            contents = {m.filename: zf.read(m) for m in members}
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise BundleError(f"the archive is damaged ({e})") from None
    try:
        manifest = json.loads(contents.pop("manifest.json"))
        listed = dict(manifest["files"])
        assert manifest.get("format") == FORMAT
    except (ValueError, KeyError, TypeError, AssertionError):
        raise BundleError("manifest.json is not a GAN Studio run manifest") from None
    if set(listed) != set(contents):
        raise BundleError(f"the files do not match the manifest (missing or extra: "
                          f"{', '.join(sorted(set(listed) ^ set(contents))[:5])})")
    bad = [n for n, data in contents.items() if _sha256(data) != listed[n]]
    if bad:
        raise BundleError(f"checksum mismatch (damaged or edited): {', '.join(bad[:5])}")

    run_id = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(manifest.get("run") or "imported")).strip(".-")[:80] or "imported"
    staging = root / f".import-{run_id}-{time.time_ns()}"
    try:
        for rel, data in contents.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for sub in ("samples", "checkpoints"):
            (staging / sub).mkdir(exist_ok=True)
        _check_contents(RunDir(staging))
        target = root / run_id
        n = 1
        while target.exists():
            n += 1
            target = root / f"{run_id}-{n}"
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    run = RunDir(target)
    status = run.status()
    if status.get("state") in ("queued", "starting", "running"):  # its process lives elsewhere
        run.set_status("stopped", message="imported from a bundle while it was running elsewhere")
    run.log(f"imported from a bundle of run {manifest.get('run')}")
    RunIndex(root).update(run)
    return run


def _check_contents(run: RunDir) -> None:
    """The recipe parses under the strict schema; every checkpoint opens through safetensors."""
    from .checkpoint import CheckpointError, read_checkpoint
    from .config import ConfigError
    from .recipes import load_recipe
    try:
        load_recipe(run.path / "config.yaml")
    except ConfigError as e:
        raise BundleError(f"config.yaml is not a valid recipe: {e}") from None
    for ckpt in run.checkpoints.glob("*.safetensors"):
        try:
            read_checkpoint(ckpt)
        except CheckpointError as e:
            raise BundleError(f"{ckpt.name}: {e}") from None
