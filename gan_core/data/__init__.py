"""Datasets: toy distributions and image collections."""
from .images import DataError, ImageData, ImageError, decode_image, load_images, mnist5k
from .toy import ToyDistribution, get_toy

__all__ = ["DataError", "ImageData", "ImageError", "ToyDistribution", "decode_image", "get_toy",
           "load_images", "mnist5k"]
