"""New detectors from the page: a recipe made from a shipped one with the page's choices, trained as
a background job (gan_core.jobs), and the detectors those runs wrote."""
from __future__ import annotations

from pathlib import Path

from ...checkpoint import CheckpointError, read_card
from ...io import atomic_write_bytes
from ...jobs import schedule, submit
from ...paths import CONFIGS
from ...recipes import dump_recipe, load_recipe
from ...runs import RunIndex, runs_root

RECIPES = {"mnist5k": "anomaly_mnist_0.yaml", "texture": "anomaly_brick.yaml", "folder": "anomaly_mnist_0.yaml"}
TEXTURES_ZH = {"brick": "砖墙", "grass": "草地", "gravel": "碎石"}   # as the shipped texture recipes name them


def detector_recipe(source: str, name: str, *, digit: int = 0, digit_is: str = "normal", texture: str = "brick",
                    path: str | None = None, gan_steps: int | None = None, encoder_steps: int | None = None):
    """A detector recipe made from a shipped one (configs/anomaly_mnist_0.yaml for digits and pictures,
    anomaly_brick.yaml for textures) with the choices of the page: `source` mnist5k (`digit` is the
    normal class, or with digit_is='anomaly' the only anomalous one), texture, or folder (`path`)."""
    if source not in RECIPES:
        raise ValueError(f"unknown source {source!r}; choose {', '.join(RECIPES)}")
    sets = [f"name={name}", f"gan.name={name}_gan"]
    # both languages, as every recipe carries them: the shipped recipe's own description_zh would
    # otherwise describe the shipped model (digit 0 normal) on a detector of digit 3
    if source == "mnist5k":
        sets += [f"gan.data.classes=[{digit}]"] if digit_is == "normal" else \
            ["gan.data.classes=null", f"gan.data.exclude_classes=[{digit}]"]
        description, description_zh = ((f"Digit {digit} is normal", f"以数字 {digit} 为正常") if digit_is == "normal"
                                       else (f"Digit {digit} is the anomaly", f"以数字 {digit} 为异常"))
    elif source == "texture":
        sets += [f"gan.data.texture={texture}"]
        description = f"{texture} is normal"
        description_zh = f"以{TEXTURES_ZH.get(texture, texture)}纹理为正常"
    else:
        sets += ["gan.data.name=folder", f"gan.data.path={path}", "gan.data.classes=null"]
        description = f"The normal pictures of {Path(path).name}"
        description_zh = f"以 {Path(path).name} 中的 normal/ 图片为正常"
    if gan_steps:
        sets.append(f"gan.train.steps={int(gan_steps)}")
    if encoder_steps:
        sets.append(f"encoder.steps={int(encoder_steps)}")
    recipe = load_recipe(CONFIGS / RECIPES[source], sets)
    recipe.description = f"{description}; trained from the app."
    recipe.description_zh = f"{description_zh}；在应用中训练。"
    return recipe


def _reading(recipe, path):
    """The detector recipe with its GAN's pictures at `path`."""
    return recipe.model_copy(update={"gan": recipe.gan.model_copy(
        update={"data": recipe.gan.data.model_copy(update={"path": str(Path(path).resolve())})})})


def submit_detector(recipe, pictures: bytes | None = None, root=None, owner: str = ""):
    """Queue the training of a detector as a background job; `pictures` (a .zip laid out as
    data.FOLDER_PARTS) is kept in the run folder, which the recipe then points at. Returns the RunDir."""
    if pictures is None:
        run = submit(recipe, root=root, device="auto", owner=owner, start=False)
    else:
        # the run folder that keeps the pictures exists only once submitted; until then the recipe names
        # the runs root that will hold it (an allowed folder, never read: the job starts after the rewrite)
        run = submit(_reading(recipe, root or runs_root()), root=root, device="auto", owner=owner, start=False)
        target = run.path / "pictures.zip"
        atomic_write_bytes(target, pictures)
        run.write_config(dump_recipe(_reading(recipe, target)))
    RunIndex(run.path.parent).update(run)
    schedule(run.path.parent)
    return run


def run_detectors(root=None) -> list[tuple[Path, dict]]:
    """(weights path, card) of every detector a run wrote (RUN/detector.*), newest run first."""
    out = []
    for card_path in sorted(Path(root or runs_root()).glob("*/detector.json"), reverse=True):
        try:
            card = read_card(card_path)
        except CheckpointError:
            continue
        if card.get("kind") == "anomaly":
            out.append((card_path.with_suffix(".safetensors"), card))
    return out
