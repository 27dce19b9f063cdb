"""The layers import one way only: views -> ui -> gan_core.apps -> gan_core's core (docs/architecture.md).
Read from the source with ast, so a late import inside a function counts too."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# gan_core's own front ends, beside the pages
TOP = {"cli.py", "commands.py", "bench.py", "serve_bench.py", "pages_bench.py", "gpu_check.py", "__main__.py"}


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, relative imports resolved to their full names."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)  # `from . import jobs`
    return out


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offending(paths: list[Path], banned: tuple[str, ...], root: Path = ROOT) -> dict[str, list[str]]:
    bad = {}
    for path in paths:
        hits = sorted(m for m in imports(path, root) if any(m == b or m.startswith(b + ".") for b in banned))
        if hits:
            bad[str(path.relative_to(root))] = hits
    return bad


def test_views_do_not_import_the_training_loop():
    assert offending(sources("views"), ("gan_core.train",)) == {}


def test_gan_core_never_imports_the_app():
    assert offending(sources("gan_core"), ("streamlit", "plotly", "ui", "views")) == {}


def test_ui_does_not_import_views():
    assert offending(sources("ui"), ("views",)) == {}


def test_the_core_does_not_import_the_apps():
    core = [p for p in sources("gan_core") if p.name not in TOP and "apps" not in p.relative_to(ROOT).parts]
    assert offending(core, ("gan_core.apps",)) == {}


def test_the_loop_knows_nothing_of_jobs_and_jobs_nothing_of_the_loop():
    assert offending(sources("gan_core/train"), ("gan_core.jobs", "gan_core.share")) == {}
    assert offending([ROOT / "gan_core/jobs.py", ROOT / "gan_core/share.py", ROOT / "gan_core/runs.py"],
                     ("gan_core.train",)) == {}


@pytest.mark.parametrize("source, banned, found", [
    ("from gan_core.train.trainer import Trainer\n", "gan_core.train", "gan_core.train.trainer"),
    ("def f():\n    from gan_core import train\n", "gan_core.train", "gan_core.train"),
    ("import streamlit as st\n", "streamlit", "streamlit"),
    ("from ..train import make_trainer\n", "gan_core.train", "gan_core.train"),
])
def test_the_check_sees_a_violation(tmp_path, source, banned, found):
    probe = tmp_path / "gan_core" / "apps" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(source)
    assert found in offending([probe], (banned,), root=tmp_path)["gan_core/apps/probe.py"]
