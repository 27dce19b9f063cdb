"""Supervised training of the metric classifier (task: classifier recipes)."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from tqdm.auto import trange
import torch.nn.functional as F
from torch import Tensor

from ..checkpoint import module_tensors, save_checkpoint
from ..config import ClassifierRecipe
from ..recipes import dump_recipe
from ..data.images import DataError, load_images
from ..devices import resolve_device
from ..nets.classifier import DigitClassifier


def random_affine(x: Tensor, g: torch.Generator, shift: float = 2.0, degrees: float = 10.0,
                  scale: tuple[float, float] = (0.9, 1.1)) -> Tensor:
    """Per-sample random translation (pixels), rotation and scale, one grid_sample for the batch."""
    n, _, h, w = x.shape
    ang = (torch.rand(n, generator=g) * 2 - 1) * math.radians(degrees)
    s = torch.empty(n).uniform_(*scale, generator=g)
    t = (torch.rand(n, 2, generator=g) * 2 - 1) * shift * 2 / torch.tensor([w, h])
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


@torch.no_grad()
def accuracy(model: DigitClassifier, x: Tensor, y: Tensor, batch: int = 500) -> float:
    model.eval()
    hits = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return hits / len(x)


def fit_classifier(recipe: ClassifierRecipe, device: str = "auto", out: str | Path | None = None,
                   progress: bool = True) -> tuple[DigitClassifier, dict[str, float]]:
    dev = resolve_device(device)
    m, t = recipe.model, recipe.train
    train = load_images(recipe.data, m.img_size, m.channels)
    test = load_images(recipe.data.model_copy(update={"split": "test"}), m.img_size, m.channels)
    if train.labels is None:
        raise DataError(f"{train.name} has no labels; a classifier needs classes")
    torch.manual_seed(t.seed)
    model = DigitClassifier(m.channels, train.n_classes, m.width, m.feature_dim, m.img_size).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=t.lr, total_steps=t.steps)
    for step in trange(t.steps, desc=recipe.name, disable=not progress):
        g = torch.Generator().manual_seed(t.seed * 1_000_003 + step)
        idx = torch.randint(len(train), (t.batch_size,), generator=g)
        x, y = train.batch(idx)
        if t.augment:
            x = random_affine(x, g)
        model.train()
        loss = F.cross_entropy(model(x.to(dev)), y.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    xt, yt = test.batch(torch.arange(len(test)))
    xr, yr = train.batch(torch.arange(len(train)))
    metrics = {"test_accuracy": round(accuracy(model, xt.to(dev), yt.to(dev)), 4),
               "train_accuracy": round(accuracy(model, xr.to(dev), yr.to(dev)), 4),
               "test_images": len(test)}
    if out is not None:
        save_checkpoint(out, module_tensors(model, "C"), {
            "kind": "classifier", "name": recipe.name, "description": recipe.description, "description_zh": recipe.description_zh,
            "model": {"channels": m.channels, "n_classes": train.n_classes, "width": m.width,
                      "feature_dim": m.feature_dim, "img_size": m.img_size},
            "data": recipe.data.model_dump(mode="json"), "train": t.model_dump(mode="json"),
            "classes": train.classes, "step": t.steps, "metrics": metrics,
            "recipe_yaml": dump_recipe(recipe)})
    return model, metrics
