import json

import pytest
from PIL import Image

from gan_core.data.wallpapers import PHOTOS, extract_photos, photo_name


def _tree(tmp_path, leave_out=None):
    """The two packages unpacked, each photo a small JPEG of 80x50, and one Plasma metadata.json."""
    tree = tmp_path / "tree"
    for package, path in PHOTOS:
        if (package, path) == leave_out:
            continue
        (tree / package / path).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (80, 50), (200, 40, 10)).save(tree / package / path)
    meta = tree / "plasma-workspace-wallpapers/usr/share/wallpapers/Path/metadata.json"
    meta.write_text(json.dumps({"KPlugin": {"Authors": [{"Name": "Risto Saukonpää"}], "License": "LGPLv3"}}))
    return tree


def test_every_photo_is_written_at_each_width_with_its_source(tmp_path):
    written = extract_photos(_tree(tmp_path), tmp_path / "out", widths=(64, 32, 1280))
    # 1280 is wider than the picture: it is kept at its own 80 px, never upscaled
    assert len(written) == 3 * len(PHOTOS)
    assert {Image.open(p).size for p in written} == {(80, 50), (64, 40), (32, 20)}
    rows = [line.split("\t") for line in (tmp_path / "out/SOURCES.txt").read_text(encoding="utf-8").splitlines()[1:]]
    assert [r[0] for r in rows] == [photo_name(p, q) for p, q in PHOTOS]
    by_name = {r[0]: r for r in rows}
    assert by_name["Path"][3:] == ["Risto Saukonpää", "LGPLv3"]  # from the wallpaper's metadata.json
    assert by_name["Kite"][4] == "GPL-2+"  # no metadata.json: the package's debian/copyright
    assert by_name["Storm"][3:] == ["Sergey Nazarov", "GPL-2+"]


def test_a_photo_missing_from_the_packages_is_named(tmp_path):
    gone = PHOTOS[3]
    with pytest.raises(FileNotFoundError, match=gone[1]):
        extract_photos(_tree(tmp_path, leave_out=gone), tmp_path / "out", widths=(32,))
