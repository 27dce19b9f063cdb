"""Run bundles: a run folder as one .zip a teammate can import into their own runs root.

A bundle holds the recipe, status, metrics, log, sample grids and the newest checkpoint, plus
manifest.json with the sha256 of every file. Importing one trusts nothing in it:

- size, file-count, unpacked-size and compression-ratio limits, checked before anything is
  read, and again while each member is streamed to disk (a member is never whole in memory);
- every name must be one a run folder has (config.yaml, samples/step_0000100.png, ...), matched
  whole: no absolute paths, no '..', no other files at all — so no pickles, scripts or executables;
- every file must match the manifest's checksum;
- every file is read back before the run appears: the recipe through the strict schema (and it
  may name only folders and MLflow tracking servers this server allows), status.json and
  metrics.jsonl as UTF-8 JSON of the right shape, samples as .npy without pickles, checkpoints
  through safetensors (never unpickled);
- it is unpacked into a hidden folder first and renamed into place only when all of that passed,
  so a refused import leaves nothing behind.
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
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .checkpoint import CheckpointError, read_checkpoint
from .config import ConfigError
from .io import atomic_write_bytes, atomic_write_json, checked_zip_members
from .recipes import check_paths, load_recipe
from .runs import RunDamaged, RunDir, RunIndex, RunStatus, require_manager, runs_root
from .tracking_server import check_tracking

FORMAT = "gan-studio-run"
MAX_BUNDLE_BYTES = 1024 ** 3           # the .zip itself
MAX_UNPACKED_BYTES = 1024 ** 3         # all members together, counted as they are written
MAX_RATIO = 100                        # unpacked / packed size of one member (zeros pack 1000:1)
RATIO_FROM = 1024 ** 2                 # ...for members that unpack to more than this
MAX_FILES = 5000
CHUNK = 1024 ** 2
# The only names a bundle may hold (relative to the run folder).
ALLOWED = re.compile(r"^(manifest\.json|config\.yaml|status\.json|metrics\.jsonl|log\.txt"
                     r"|samples/step_\d{7}\.(png|npy)"
                     r"|checkpoints/step_\d{7}\.(safetensors|json))$")


class BundleError(ValueError):
    """A bundle that cannot be imported; the message says why."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_run(run: RunDir, out: str | Path | None = None, user: str | None = None,
               admins: tuple[str, ...] = ()) -> bytes:
    """The run as bundle bytes (also written to `out` if given): everything but older checkpoints.
    With sign-in, only the run's owner or an admin may export it (NotAllowed)."""
    require_manager(run, user, admins, "export")
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


def import_bundle(source: str | Path | bytes, root: str | Path | None = None, owner: str = "") -> RunDir:
    """Validate a bundle and add it to the runs root as a new run folder; BundleError says why not.
    With sign-in, the importer is its `owner` (job.json; a bundle never carries one)."""
    root = Path(root or runs_root())
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle is {size / 1e9:.1f} GB, over the limit of {MAX_BUNDLE_BYTES / 1e9:.0f} GB")
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except zipfile.BadZipFile as e:
        raise BundleError(f"not a .zip file ({e})") from None
    with zf:
        members = _checked_members(zf)
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".import-{time.time_ns()}"
        try:
            digests = _unpack(zf, members, staging)
            manifest = _manifest(staging)
            if set(manifest.files) != set(digests) - {"manifest.json"}:
                raise BundleError(f"the files do not match the manifest (missing or extra: "
                                  f"{', '.join(sorted(set(manifest.files) ^ (set(digests) - {'manifest.json'}))[:5])})")
            bad = [n for n, digest in manifest.files.items() if digests[n] != digest]
            if bad:
                raise BundleError(f"checksum mismatch (damaged or edited): {', '.join(bad[:5])}")
            (staging / "manifest.json").unlink()
            for sub in ("samples", "checkpoints"):
                (staging / sub).mkdir(exist_ok=True)
            _check_contents(RunDir(staging))
            if owner:  # before the run appears, so it is never ownerless
                atomic_write_json(staging / "job.json", {"owner": owner})
            run_id = re.sub(r"[^A-Za-z0-9_.-]+", "-", manifest.run or "imported").strip(".-")[:80] or "imported"
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
    if run.status().get("state") in ("queued", "starting", "running"):  # its process lives elsewhere
        run.set_status("stopped", message="imported from a bundle while it was running elsewhere")
    run.log(f"imported from a bundle of run {manifest.run}")
    RunIndex(root).update(run)
    return run


def _checked_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members, once their count, names, declared sizes and compression ratios pass."""
    members = checked_zip_members(zf, max_files=MAX_FILES, max_bytes=MAX_UNPACKED_BYTES, max_ratio=MAX_RATIO,
                                  ratio_from=RATIO_FROM, error=BundleError)
    foreign = [m.filename for m in members if not ALLOWED.fullmatch(m.filename)]
    if foreign:
        raise BundleError(f"refused: files a run bundle does not hold (only recipes, metrics, logs, PNG/NPY "
                          f"samples and safetensors checkpoints are accepted): {', '.join(map(repr, foreign[:5]))}")
    if len({m.filename for m in members}) != len(members):
        raise BundleError("refused: a file name appears twice in the archive")
    names = {m.filename for m in members}
    if "manifest.json" not in names or "config.yaml" not in names:
        raise BundleError("not a GAN Studio run bundle (manifest.json and config.yaml are required)")
    return members


def _unpack(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path) -> dict[str, str]:
    """Stream each member to staging/<name>, counting what really comes out (a header may lie about
    sizes); returns the sha256 of each."""
    digests, total = {}, 0
    for m in members:
        path = staging / m.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, written = hashlib.sha256(), 0
        try:
            with zf.open(m) as src, open(path, "wb") as dst:
                while chunk := src.read(CHUNK):
                    written += len(chunk)
                    total += len(chunk)
                    if written > m.file_size or total > MAX_UNPACKED_BYTES:
                        raise BundleError(f"{m.filename} unpacks to more than its header says (or the bundle "
                                          f"to more than {MAX_UNPACKED_BYTES / 1e9:.0f} GB)")
                    digest.update(chunk)
                    dst.write(chunk)
        except BundleError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as e:
            # NotImplementedError: a compression method zipfile cannot read
            raise BundleError(f"the archive is damaged ({e})") from None
        digests[m.filename] = digest.hexdigest()
    return digests


class _Manifest(BaseModel):
    format: Literal["gan-studio-run"]
    version: int = 1
    run: str | None = None
    exported_at: float | None = None
    files: dict[str, str]


class _Metric(BaseModel):
    """One line of metrics.jsonl: a JSON object with its step."""
    model_config = ConfigDict(extra="allow")
    step: int = Field(ge=0)


def _manifest(staging: Path) -> _Manifest:
    try:
        return _Manifest.model_validate(RunDir(staging).read_json("manifest.json"))
    except (ValidationError, RunDamaged):
        raise BundleError("manifest.json is not a GAN Studio run manifest") from None


def _check_contents(run: RunDir) -> None:
    """Every file reads back as what it claims to be, before the run appears anywhere."""
    try:
        recipe = load_recipe(run.path / "config.yaml", source="config.yaml")
        check_paths(recipe)
        check_tracking(recipe, starting=False)  # a server named must be one set up here; Resume checks the rest
    except ConfigError as e:
        raise BundleError(str(e)) from None
    try:
        run.read_json("status.json", RunStatus)
    except RunDamaged as e:
        raise BundleError(f"status.json does not describe a run: {e}") from None
    for name in ("metrics.jsonl", "log.txt"):
        try:
            text = (run.path / name).read_bytes().decode("utf-8") if (run.path / name).exists() else ""
        except UnicodeDecodeError:
            raise BundleError(f"{name} is not UTF-8 text") from None
        if name == "metrics.jsonl":
            lines = text.splitlines()
            for n, line in enumerate(lines, 1):
                try:
                    _Metric.model_validate_json(line)
                except ValidationError:
                    if n < len(lines):  # a torn last line (the run was killed mid-write) is allowed
                        raise BundleError(f"metrics.jsonl line {n} is not a record of a step") from None
    for sample in run.samples.glob("*.npy"):
        try:
            np.load(sample, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise BundleError(f"{sample.name}: not a plain .npy array ({e})") from None
    for ckpt in run.checkpoints.glob("*.safetensors"):
        try:
            read_checkpoint(ckpt)
        except CheckpointError as e:
            raise BundleError(f"{ckpt.name}: {e}") from None
