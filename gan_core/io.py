"""Small file helpers every module shares: atomic writes and the data cache."""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np


# mkstemp creates files 0600; shared run folders need the mode a plain open() would give.
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def safe_member(name: str) -> bool:
    """A zip member name that stays inside the archive: not absolute, no '..', no drive."""
    p = PurePosixPath(name.replace("\\", "/"))
    return not (p.is_absolute() or ".." in p.parts or (p.parts and p.parts[0].endswith(":")))


def checked_zip_members(zf: zipfile.ZipFile, *, max_files: int, max_bytes: int, max_ratio: float,
                        ratio_from: int, error: Callable[[str], Exception]) -> list[zipfile.ZipInfo]:
    """The file members of an archive from outside, once it passes the limits every such zip meets:
    at most `max_files` files, no name escaping the archive, at most `max_bytes` unpacked in all, and
    no member over `ratio_from` bytes that unpacks to more than `max_ratio` times its packed size (a
    decompression bomb). Otherwise `error(reason)` is raised. The sizes are the headers' claims:
    whoever unpacks a member still counts what really comes out."""
    members = [m for m in zf.infolist() if not m.is_dir()]
    if len(members) > max_files:
        raise error(f"{len(members):,} files is over the limit of {max_files:,}")
    unsafe = [m.filename for m in members if not safe_member(m.filename)]
    if unsafe:
        raise error(f"refused: paths that escape the archive: {', '.join(unsafe[:5])}")
    total = sum(m.file_size for m in members)
    if total > max_bytes:
        raise error(f"it unpacks to {total / 1e9:.1f} GB, over the limit of {max_bytes / 1e9:.1f} GB")
    packed = [m.filename for m in members if m.file_size > ratio_from and m.file_size > max_ratio * max(m.compress_size, 1)]
    if packed:
        raise error(f"refused: {', '.join(packed[:5])} would unpack to over {max_ratio:g} times its packed size "
                    "(a decompression bomb)")
    return members


def cache_dir() -> Path:
    """$GAN_STUDIO_CACHE, else ~/.cache/gan_studio: data built from pip-shipped sources."""
    root = Path(os.environ.get("GAN_STUDIO_CACHE") or Path.home() / ".cache" / "gan_studio")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cached_arrays(name: str, build: Callable[[], dict[str, np.ndarray]],
                  check: Callable[[dict[str, np.ndarray]], bool] = lambda a: True) -> dict[str, np.ndarray]:
    """Load cache_dir()/name.npz, or build and store it. A corrupt or stale cache is rebuilt."""
    path = cache_dir() / f"{name}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            if check(arrays):
                return arrays
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            pass  # unreadable: fall through and rebuild
    arrays = build()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only or full cache costs speed next time, not correctness
    return arrays
