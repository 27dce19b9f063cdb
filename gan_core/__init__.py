"""gan_core: the PyTorch library behind GAN Studio (no UI imports here)."""
__version__ = "0.1.0"
