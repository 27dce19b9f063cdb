"""Run folders: everything one training run writes, in one place.

runs/<id>/
  config.yaml     the resolved recipe
  status.json     state (running, finished, failed, stopped), step, message
  metrics.jsonl   one JSON object per logged step
  samples/        sample grids (images) or point clouds (toy), named by step
  checkpoints/    step_XXXXXXX.safetensors + .json, the newest two kept
  log.txt         human-readable log
  job.json        how the app's job queue starts it (gan_core.jobs), for runs started as jobs

The root is $GAN_STUDIO_RUNS (default ./runs), so a team can point it at shared storage.
root/index.sqlite lists the runs for fast filtering; the folders stay the truth, and the index
is rebuilt from them whenever it is missing or damaged.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .checkpoint import CheckpointError, latest_checkpoint, read_checkpoint
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .paths import runs_root

STATES = ("queued", "starting", "running", "finished", "failed", "stopped")


class RunDamaged(ValueError):
    """A run folder's file that cannot be read as what it should be; the message says which and why."""


class RunStatus(BaseModel):
    """What status.json may say: the fields the app reads are type-checked, others are kept."""
    model_config = ConfigDict(extra="allow")
    state: Literal[STATES] | None = None  # type: ignore[valid-type]
    step: int = Field(0, ge=0)
    total_steps: int | None = Field(None, ge=0)
    message: str = ""


class JobInfo(BaseModel):
    """What job.json may say (gan_core.jobs writes it): how to start the run, whose it is, and
    whether its owner shows it to the team."""
    model_config = ConfigDict(extra="allow")
    device: str = "auto"
    nproc: int = Field(1, ge=1)
    owner: str = ""
    notes: str = ""
    shared: bool = False
    submitted_at: float | None = None


class NotAllowed(PermissionError):
    """Someone other than a run's owner (or an admin) tried to stop, resume, delete or export it."""


def may_manage(run: "RunDir", user: str | None, admins: tuple[str, ...] = ()) -> bool:
    """Whether `user` may stop, resume, delete, export or share `run`: its owner and the admins may.
    user None means the app has no sign-in (a laptop): then everyone may, as everyone is one person."""
    return user is None or user in admins or run.owner() == user


def may_view(run: "RunDir", user: str | None, admins: tuple[str, ...] = ()) -> bool:
    """Whether `user` may see `run` at all: the ones they may manage, and the ones marked shared."""
    return may_manage(run, user, admins) or run.job().get("shared") is True


def require_manager(run: "RunDir", user: str | None, admins: tuple[str, ...] = (), action: str = "change") -> None:
    if not may_manage(run, user, admins):
        raise NotAllowed(f"only {run.owner() or 'its owner'} (or an admin) may {action} run {run.id}")


def new_run_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, name: str, root: str | Path | None = None, path: str | Path | None = None) -> "RunDir":
        run = cls(path if path is not None else Path(root or runs_root()) / new_run_id(name))
        for sub in ("samples", "checkpoints"):
            (run.path / sub).mkdir(parents=True, exist_ok=True)
        return run

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint in checkpoints/ whose weights verify (damaged ones are skipped)."""
        return latest_checkpoint(self.checkpoints)

    def verified_checkpoints(self) -> list[Path]:
        """The checkpoints (their .json cards) whose weights verify, oldest first; each damaged one
        is moved aside on the way (set_aside), so it is never counted, overwritten or resumed from."""
        good = []
        for card in sorted(self.checkpoints.glob("step_*.json")):
            try:
                read_checkpoint(card)
            except CheckpointError as e:
                self.set_aside(card, str(e))
            else:
                good.append(card)
        return good

    def set_aside(self, card: Path, reason: str) -> Path:
        """Move a damaged checkpoint (card and weights) into checkpoints/damaged/, and say so in the log."""
        aside = self.checkpoints / "damaged"
        aside.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for path in (card.with_suffix(".json"), card.with_suffix(".safetensors")):
            if path.exists():
                path.replace(aside / f"{path.stem}.{stamp}{path.suffix}")
        self.log(f"checkpoint {card.stem} is damaged ({reason}); moved to checkpoints/damaged/")
        return aside

    def clean_partial_writes(self) -> list[Path]:
        """Delete the temp files of writes a killed process left in checkpoints/ and samples/ (only the
        training process writes there, so at its start none can be in flight)."""
        orphans = [p for folder in (self.checkpoints, self.samples) for p in folder.glob(".*.tmp")]
        for path in orphans:
            path.unlink(missing_ok=True)
        return orphans

    def write_config(self, text: str) -> None:
        atomic_write_text(self.path / "config.yaml", text)

    def read_json(self, name: str, shape: type[BaseModel] | None = None) -> dict[str, Any]:
        """A JSON object file of the run ({} if missing); RunDamaged if it is not UTF-8, not a JSON
        object, or (with `shape`) has a field of the wrong type."""
        try:
            value = json.loads((self.path / name).read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise RunDamaged(f"{name} cannot be read ({e})") from None
        if not isinstance(value, dict):
            raise RunDamaged(f"{name} holds a JSON {type(value).__name__}, not an object")
        if shape is not None:
            try:
                shape.model_validate(value)
            except ValidationError as e:
                err = e.errors()[0]
                raise RunDamaged(f"{name}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        return value

    def job(self) -> dict[str, Any]:
        """job.json ({} for a run the CLI made, or when it is damaged; describe() reports the damage)."""
        try:
            return self.read_json("job.json", JobInfo)
        except RunDamaged:
            return {}

    def owner(self) -> str:
        """Who made the run ('' when no one is named: a CLI run, or a laptop without sign-in)."""
        return str(self.job().get("owner") or "")

    def status(self) -> dict[str, Any]:
        """status.json ({} when it is missing or damaged; describe() reports the damage)."""
        try:
            return self.read_json("status.json", RunStatus)
        except RunDamaged:
            return {}

    def set_status(self, state: str, **fields: Any) -> None:
        assert state in STATES, state
        status = {**self.status(), "pid": os.getpid(), "host": socket.gethostname(), **fields, "state": state,
                  "updated_at": time.time()}
        atomic_write_json(self.path / "status.json", status)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Keep only the records up to `step` (a resumed run redoes the steps after its checkpoint,
        so metrics.jsonl never repeats a step or runs backwards)."""
        kept = [r for r in self.read_metrics() if isinstance(r.get("step"), int) and r["step"] <= step]
        atomic_write_text(self.path / "metrics.jsonl", "".join(json.dumps(r, allow_nan=True) + "\n" for r in kept))

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every record of metrics.jsonl: the lines that are JSON objects with a whole-number step
        (a torn last line from a crash, or anything else, is skipped)."""
        out = []
        try:
            with open(self.path / "metrics.jsonl", encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and type(record.get("step")) is int:
                        out.append(record)
        except OSError:
            pass
        return out

    def log(self, message: str) -> None:
        with open(self.path / "log.txt", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def save_upload(data: bytes, filename: str, root: str | Path | None = None) -> Path:
    """Keep an uploaded file (a zip of training pictures) under root/uploads/, named by its content,
    so runs on shared storage can read it and the same upload is stored once."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip("-.")[:40] or "upload"
    path = Path(root or runs_root()) / "uploads" / f"{digest}-{stem}{Path(filename).suffix.lower()[:8]}"
    if not path.exists():  # the page calls this on every rerun: only a new upload costs a write and a clean-up
        atomic_write_bytes(path, data)
        clean_uploads(path.parent.parent)
    return path.resolve()


UPLOAD_MAX_AGE_S = 24 * 3600


def clean_uploads(root: str | Path | None = None, max_age_s: float = UPLOAD_MAX_AGE_S) -> list[Path]:
    """Delete uploads older than `max_age_s` that no run's recipe names (an upload a run trains on
    stays as long as the run does, so it can be resumed)."""
    root = Path(root or runs_root())
    folder = root / "uploads"
    if not folder.is_dir():
        return []
    named = _recipes_text(root)
    old = [p for p in folder.iterdir() if p.is_file() and time.time() - p.stat().st_mtime > max_age_s
           and p.name not in named]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def discard_upload(path: str | Path) -> None:
    """Delete an upload that was refused (bad pictures), unless a run trains on the same file."""
    path = Path(path)
    if path.name not in _recipes_text(path.parent.parent):
        path.unlink(missing_ok=True)


def _recipes_text(root: Path) -> str:
    """Every run's config.yaml under `root`, as one text (to see whether a file name is used)."""
    out = []
    for config in root.glob("*/config.yaml"):
        with contextlib.suppress(OSError):
            out.append(config.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(out)


# ---------------------------------------------------------------- the index

# (metric, better): the figures a run's best value is kept of, as logged in metrics.jsonl
BEST = (("fd", min), ("kid", min), ("label_acc", max), ("precision", max), ("recall", max))
COLUMNS = ("id", "name", "owner", "notes", "created", "state", "message", "dataset", "model", "loss", "steps",
           "step", "best", "config_hash", "updated", "shared")


def describe(run: RunDir) -> dict[str, Any]:
    """One index row, read from the run folder. A folder that cannot be read gives state 'broken'
    and the reason, instead of an exception."""
    row: dict[str, Any] = {k: None for k in COLUMNS}
    row.update(id=run.id, name=run.id, state="broken", updated=time.time())
    try:
        row["created"] = run.path.stat().st_mtime
        text = (run.path / "config.yaml").read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
        if not isinstance(raw, dict):
            raise ValueError("config.yaml is not a mapping")
    except (OSError, ValueError, yaml.YAMLError) as e:
        row["message"] = f"unreadable run folder: {e}"
        return row
    detector = raw.get("task") == "anomaly" and isinstance(raw.get("gan"), dict)
    recipe = raw["gan"] if detector else raw  # an anomaly detector's GAN is its `gan` section
    data, model, train = (recipe.get(k) if isinstance(recipe.get(k), dict) else {} for k in ("data", "model", "train"))
    dataset = str(data.get("name", ""))
    if dataset == "toy":
        dataset = f"toy/{data.get('toy', '')}"
    elif dataset in ("folder",) and data.get("path"):
        dataset = f"folder/{Path(str(data['path'])).name}"
    arch = str(model.get("arch", "dcgan"))
    if model.get("n_classes"):
        arch = f"conditional {arch}"
    if model.get("img_size"):
        arch += f" {model['img_size']}px"
    if model.get("design"):
        arch += f" {model['design']}"
    if detector:
        arch = f"anomaly detector ({arch})"
    try:
        status = run.read_json("status.json", RunStatus)
        job = run.read_json("job.json", JobInfo)
    except RunDamaged as e:
        row.update(name=str(raw.get("name", run.id)), message=f"damaged run folder: {e}")
        return row
    best: dict[str, float] = {}
    for record in run.read_metrics():
        for key, better in BEST:
            v = record.get(key)
            if isinstance(v, (int, float)) and math.isfinite(v):
                best[key] = better(best.get(key, v), v)
    row.update(name=str(raw.get("name", run.id)), owner=job.get("owner", ""), notes=job.get("notes", ""),
               shared=bool(job.get("shared")),
               created=job.get("submitted_at") or status.get("started_at") or row["created"],
               state=status.get("state", "unknown"), message=status.get("message", ""), dataset=dataset,
               model=arch, loss=str(train.get("loss", "")),
               steps=train["steps"] if type(train.get("steps")) is int else None, step=status.get("step", 0),
               best=json.dumps(best), config_hash=hashlib.sha256(text.encode()).hexdigest()[:12])
    return row


class RunIndex:
    """root/index.sqlite (WAL): one row per run folder. Safe with several processes writing at once
    (SQLite locking, a 30 s busy timeout for writers); a damaged file, or one of another layout, is
    moved aside or rebuilt from the folders, which stay the truth. A page's listing waits
    READ_WAIT_S at most: while another process holds the index longer, the listing is read from
    the folders and says so. WAL needs shared memory between the processes, so the index wants a
    local disk or a file system with working locks; the run folders themselves may sit anywhere."""

    READ_WAIT_S = 3.0

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or runs_root())
        self.path = self.root / "index.sqlite"
        self.problems: list[str] = []
        self._from_folders: list[dict[str, Any]] | None = None  # the listing while the index is busy

    @contextlib.contextmanager
    def connect(self, wait_s: float = 30.0) -> Iterator[sqlite3.Connection]:
        self.root.mkdir(parents=True, exist_ok=True)
        conn = self._open(wait_s)
        try:
            yield conn
        finally:
            conn.close()

    def _open(self, wait_s: float) -> sqlite3.Connection:
        for attempt in range(2):
            conn = None
            try:
                conn = sqlite3.connect(self.path, timeout=wait_s, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"CREATE TABLE IF NOT EXISTS runs ({', '.join(COLUMNS)}, PRIMARY KEY (id))")
                conn.execute("PRAGMA quick_check").fetchone()
                if tuple(r[1] for r in conn.execute("PRAGMA table_info(runs)")) != COLUMNS:
                    # another version's layout: the index is a cache of the folders, so start it afresh
                    conn.execute("DROP TABLE runs")
                    conn.execute(f"CREATE TABLE runs ({', '.join(COLUMNS)}, PRIMARY KEY (id))")
                    self.problems.append("the runs index had another layout; it was rebuilt from the run folders")
                return conn
            except sqlite3.DatabaseError as e:
                if conn is not None:
                    conn.close()
                if attempt or isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                    raise
                aside = self.path.with_name(f"index.sqlite.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
                self.path.replace(aside)
                for extra in ("-wal", "-shm"):
                    Path(str(self.path) + extra).unlink(missing_ok=True)
                self.problems.append(f"the runs index was damaged ({e}); it was moved to {aside.name} "
                                     f"and rebuilt from the run folders")
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[sqlite3.Connection]:
        """A write transaction held for the block: one process at a time (used to start jobs once)."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def run_dirs(self) -> list[RunDir]:
        """Every run folder under the root (a folder with config.yaml or status.json)."""
        if not self.root.is_dir():
            return []
        return [RunDir(p) for p in sorted(self.root.iterdir())
                if p.is_dir() and not p.name.startswith(".")
                and ((p / "config.yaml").exists() or (p / "status.json").exists())]

    def update(self, run: RunDir) -> dict[str, Any]:
        row = describe(run)
        with self.connect() as conn:
            conn.execute(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         [row[k] for k in COLUMNS])
        return row

    def sync(self) -> list[str]:
        """Re-read every run folder, drop rows of folders that are gone; returns the problems found
        (a broken folder is one row saying why, never an exception)."""
        rows = [describe(run) for run in self.run_dirs()]
        try:
            with self.connect(self.READ_WAIT_S) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM runs")
                conn.executemany(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                                 [[r[k] for k in COLUMNS] for r in rows])
                conn.execute("COMMIT")
        except sqlite3.OperationalError as e:  # held by another process, or on a disk it cannot lock
            self._from_folders = [{**r, "best": json.loads(r["best"] or "{}")} for r in rows]
            self.problems.append(f"the runs index is busy ({e}); this list was read from the run folders")
        self.problems += [f"{r['id']}: {r['message']}" for r in rows if r["state"] == "broken"]
        return self.problems

    def refresh_live(self) -> None:
        """Re-read the rows of runs that are queued, starting or running. Their processes write
        status.json as they go but the index only when they end, so such a row is stale from its
        first step: a run at step 270 was listed as 'starting 0/2,000' until something synced."""
        with self.connect(self.READ_WAIT_S) as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE state IN ('queued', 'starting', 'running')")]
            rows = [describe(RunDir(self.root / i)) for i in ids if (self.root / i).is_dir()]
            if rows:
                conn.executemany(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) "
                                 f"VALUES ({', '.join('?' * len(COLUMNS))})", [[r[k] for k in COLUMNS] for r in rows])

    def rows(self, state: str | None = None, text: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first; `state` filters exactly, `text` matches name, notes, owner or dataset.
        Live runs are read from their folders first (refresh_live), so they are listed as they are now."""
        if self._from_folders is not None:
            found = [r for r in self._from_folders if (not state or r["state"] == state) and (
                not text or any(text.lower() in str(r[k] or "").lower()
                                for k in ("name", "notes", "owner", "dataset", "id")))]
            return sorted(found, key=lambda r: r["created"] or 0, reverse=True)
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            args.append(state)
        if text:
            sql += " AND (name LIKE ? OR notes LIKE ? OR owner LIKE ? OR dataset LIKE ? OR id LIKE ?)"
            args += [f"%{text}%"] * 5
        try:
            self.refresh_live()
            with self.connect(self.READ_WAIT_S) as conn:
                conn.row_factory = sqlite3.Row
                out = [dict(r) for r in conn.execute(sql + " ORDER BY created DESC", args)]
        except sqlite3.OperationalError as e:
            self._from_folders = [{**r, "best": json.loads(r["best"] or "{}")} for r in map(describe, self.run_dirs())]
            self.problems.append(f"the runs index is busy ({e}); this list was read from the run folders")
            return self.rows(state, text)
        for r in out:
            r["best"] = json.loads(r["best"] or "{}")
            r["shared"] = bool(r["shared"])
        return out
