"""Photographs that Debian's desktop packages ship, as an extra training folder for super-resolution:

    make sr-photos                      # = python -m gan_core.data.wallpapers data/sr_photos

The scikit-image photos the shipped SR models learn from are few (about ten); Debian's wallpaper
packages hold more real photographs under free licences. This downloads two of those packages with
`apt-get download` (no root, nothing installed), unpacks them with `dpkg-deb -x`, and writes each
photograph listed in PHOTOS at the widths asked (antialiased downscales: a photo shown at 1280 px has
the detail per pixel of the held-out china/flower pictures), with SOURCES.txt naming every picture's
package, author and licence. The folder is a training set for `data.name: folder`; it is never
committed and the app never needs it.

PHOTOS was chosen by eye from contact sheets of the four candidate packages (2026-12-05): only
photographs of real scenes; the renders, gradients and drawings of those packages (all of
ukui-wallpapers and gnome-backgrounds) are left out.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from ..paths import REPO

PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers")
_MATE = "usr/share/backgrounds/mate/nature"
_PLASMA = "usr/share/wallpapers"
# (package, path inside it); MATE's authors and licences are those of its debian/copyright,
# Plasma's are read from each wallpaper's metadata.json at install time.
PHOTOS = [("mate-backgrounds", f"{_MATE}/{n}.jpg") for n in (
    "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
    "TwoWings", "Wood", "YellowFlower")] + [
    ("plasma-workspace-wallpapers", f"{_PLASMA}/{n}/contents/images/2560x1600.jpg") for n in (
        "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
        "OneStandsOut", "Path", "summer_1am")]
MATE_CREDITS = {
    "Aqua": "Charles Barbin", "LadyBird": "Charles Barbin", "YellowFlower": "Charles Barbin",
    "Garden": "Charles Barbin", "Blinds": "Lennart Poettering, Andrea Cimitan", "Dune": "Marco Cogoni, Hylke Bons",
    "FreshFlower": "Jens Ansorg", "GreenMeadow": "Timothy Schellhase, Lapo Calamandrei",
    "RainDrops": "blackcombwhistler07", "Storm": "Sergey Nazarov", "TwoWings": "Charles Barbin, Hylke Bons",
    "Wood": "Jean-François Fortin Tam"}
WIDTHS = (1280, 640)
DEFAULT_DEST = REPO / "data" / "sr_photos"


def photo_name(package: str, path: str) -> str:
    """The picture's own name: MATE's file stem, Plasma's wallpaper folder."""
    parts = Path(path).parts
    return parts[parts.index("wallpapers") + 1] if package.startswith("plasma") else Path(path).stem


def credit(tree: Path, package: str, path: str) -> tuple[str, str]:
    """(author, licence) of one photo: Plasma's metadata.json, else MATE's debian/copyright (GPL-2+)."""
    name = photo_name(package, path)
    if package.startswith("plasma"):
        try:
            meta = json.loads((tree / package / _PLASMA / name / "metadata.json").read_text(encoding="utf-8"))
            plugin = meta.get("KPlugin", meta)
            authors = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []) if isinstance(a, dict))
            return authors or "KDE Visual Design Group", plugin.get("License") or "GPL-2+"
        except (OSError, ValueError):
            return "KDE Visual Design Group", "GPL-2+"  # the package's debian/copyright for Files: *
    return MATE_CREDITS.get(name, "MATE artwork contributors (debian/copyright)"), "GPL-2+"


def extract_photos(tree: Path, dest: Path, widths: tuple[int, ...] = WIDTHS) -> list[Path]:
    """Write every photo of PHOTOS found under tree/<package>/ to dest as NAME_<width>.png, each width
    no wider than the original (Lanczos downscales), and SOURCES.txt; the written files."""
    dest.mkdir(parents=True, exist_ok=True)
    written, lines, missing = [], [], []
    for package, path in PHOTOS:
        src = tree / package / path
        if not src.is_file():
            missing.append(f"{package}: {path}")
            continue
        name = photo_name(package, path)
        with Image.open(src) as im:
            im = im.convert("RGB")
            for w in sorted({min(w, im.width) for w in widths}, reverse=True):
                out = dest / f"{name}_{w}.png"
                im.resize((w, round(im.height * w / im.width)), Image.Resampling.LANCZOS).save(out)
                written.append(out)
        author, licence = credit(tree, package, path)
        lines.append(f"{name}\t{package}\t{path}\t{author}\t{licence}")
    if missing:
        raise FileNotFoundError("not in the unpacked packages (a newer version may have moved them): "
                                + "; ".join(missing))
    (dest / "SOURCES.txt").write_text("name\tpackage\tpath in the package\tauthor\tlicence\n" + "\n".join(lines)
                                      + "\n", encoding="utf-8")
    return written


def download(work: Path) -> Path:
    """apt-get download + dpkg-deb -x of PACKAGES into work/<package>/; the unpacked tree."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise RuntimeError("this needs Debian's apt-get and dpkg-deb (a Debian or Ubuntu machine)")
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=work, check=True)
    tree = work / "tree"
    for package in PACKAGES:
        (deb,) = work.glob(f"{package}_*.deb")
        (tree / package).mkdir(parents=True)  # dpkg-deb makes the last folder only
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree / package)], check=True)
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_core.data.wallpapers", description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", nargs="?", default=str(DEFAULT_DEST), help=f"the folder (default {DEFAULT_DEST})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gan_studio_wallpapers_") as work:
        try:
            written = extract_photos(download(Path(work)), Path(args.dest))
        except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    print(f"{len(written)} pictures of {len(PHOTOS)} photographs in {args.dest} (their sources: SOURCES.txt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
