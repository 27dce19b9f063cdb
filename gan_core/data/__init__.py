"""Datasets: toy distributions, image collections, picture pairs and piano rolls."""
from __future__ import annotations

from .images import DataError, ImageData, ImageError, decode_image, load_images, mnist5k
from .music import RollData, chorale_dataset
from .pairs import PairData, load_pairs
from .toy import ToyDistribution, get_toy
from .unpaired import UnpairedData, load_unpaired

__all__ = ["DataError", "ImageData", "ImageError", "PairData", "RollData", "ToyDistribution", "UnpairedData", "decode_image",
           "get_toy", "load_images", "load_training_data", "mnist5k"]


def load_training_data(cfg) -> ImageData | ToyDistribution | RollData | PairData | UnpairedData:
    """What a GAN recipe trains on: pairs for image-to-image models, two domains for unpaired ones,
    else points, piano rolls or pictures."""
    if cfg.model.family == "paired":
        return load_pairs(cfg)
    if cfg.model.family == "unpaired":
        return load_unpaired(cfg)
    if cfg.data.name == "toy":
        return get_toy(cfg.data.toy)
    if cfg.data.name == "bach_chorales":
        return chorale_dataset({"train": "train", "test": "validation", "all": "all"}[cfg.data.split])
    return load_images(cfg.data, cfg.model.img_size, cfg.model.channels)
